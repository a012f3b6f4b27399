import { describe, expect, it } from 'vitest'
import type { Command } from 'commander'
import { registerCommands } from './commands/index.js'
import { memoryIo } from './io.js'
import { main } from './main.js'
import { Program } from './program.js'

describe('annal demo', () => {
  it('signs a checkpoint and verifies its proofs', async () => {
    const io = memoryIo()
    expect(await main(['demo'], io)).toBe(0)
    expect(io.stdout).toMatch(/demo\.annal\.example\/audit\n5\n[A-Za-z0-9+/]{43}=\n\n— demo\.annal\.example\/audit [A-Za-z0-9+/]+=*\n/)
    expect(io.stdout).toContain('verified: entry 1 is in the tree of size 5')
    expect(io.stdout).not.toContain('PRIVATE+KEY')
  })
})

describe('the command line', () => {
  it('exits 2 with one sentence for an unknown command or option', async () => {
    for (const args of [['frobnicate'], ['demo', '--frobnicate'], ['serve', '--frobnicate']]) {
      const io = memoryIo()
      expect(await main(args, io)).toBe(2)
      expect(io.stderr.trim().split('\n')).toHaveLength(1)
      expect(io.stderr).toMatch(/^annal: .+\.\n$/)
    }
  })

  it('prints the help of a command group run without a command, and exits 2', async () => {
    for (const args of [[], ['witness']]) {
      const io = memoryIo()
      expect(await main(args, io)).toBe(2)
      expect(io.stderr).toMatch(/^Usage: annal/)
      expect(io.stdout).toBe('')
    }
  })

  it('prints its version and exits 0', async () => {
    const io = memoryIo()
    expect(await main(['--version'], io)).toBe(0)
    expect(io.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('has an example in the help of every command', async () => {
    const program = new Program(memoryIo(), '0.0.0')
    registerCommands(program)
    const leaves = (command: Command): Command[] =>
      command.commands.length === 0 ? [command] : command.commands.flatMap(leaves)
    const names = leaves(program.root).map((command) => {
      const path: string[] = []
      for (let at: Command | null = command; at !== null && at.parent !== null; at = at.parent) path.unshift(at.name())
      return path
    })
    expect(names.length).toBeGreaterThan(2)
    for (const path of names) {
      const io = memoryIo()
      expect(await main([...path, '--help'], io), path.join(' ')).toBe(0)
      expect(io.stdout, path.join(' ')).toMatch(/Example:\n {2}\$ annal /)
    }
  })
})

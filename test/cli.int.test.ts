import { execFile, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
// The built command run directly, as `npm start` runs it (the npm bin is tested in bin.int.test.ts).
const bin = createRequire(import.meta.url).resolve('@annal/cli/package.json').replace(/package\.json$/, 'dist/main.js')

describe('the annal command, as a real process', () => {
  it('annal demo prints a checkpoint that an independent reader verifies', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo'])
    const note = /tlog-checkpoint\):\n\n([\s\S]+?\n— [^\n]+\n)/.exec(stdout)?.[1]
    const verifierKey = /log verifier key: (\S+)/.exec(stdout)?.[1]
    expect(note).toBeDefined()
    const checkpoint = openCheckpoint(note!, [parseVerifierKey(verifierKey!)])
    expect(checkpoint.origin).toBe('demo.annal.example/audit')
    expect(checkpoint.size).toBe(5)
    expect(stdout).toContain('verified: entry 1 is in the tree of size 5')
  })

  it('exits non-zero with one sentence for an unknown command', async () => {
    const failure = await run(process.execPath, [bin, 'nonsense']).catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 2 })
    expect((failure as { stderr: string }).stderr.trim().split('\n')).toHaveLength(1)
  })
})

describe('the annal command, read by a reader that stops early', () => {
  it('exits 0 without a stack trace when its standard output is closed', async () => {
    const child = spawn(process.execPath, [bin, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] })
    // Closed before the child has started, so that its first write meets a closed pipe.
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += chunk })
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect([code, stderr]).toEqual([0, ''])
  })
})

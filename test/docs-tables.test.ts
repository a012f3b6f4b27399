// The docs' tables that list what the code has: checked against the code, so that neither can
// change without the other.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { registerCommands } from '../packages/cli/src/commands/index.js'
import { memoryIo } from '../packages/cli/src/io.js'
import { Program } from '../packages/cli/src/program.js'
import { SERVE_SETTINGS } from '../packages/cli/src/serve-settings.js'
import { SERVE_USAGE } from '../packages/cli/src/serve.js'

const root = join(import.meta.dirname, '..')
const read = (path: string) => readFileSync(join(root, path), 'utf8')

/** The rows of the Markdown table whose header row is `header`, as lists of cells. */
function tableRows(markdown: string, header: string): string[][] {
  const lines = markdown.split('\n')
  const start = lines.indexOf(header)
  expect(start, header).toBeGreaterThan(-1)
  const rows: string[][] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '')))
  }
  return rows
}

/** Every `annal` command that runs something, as its words: `witness serve`. */
function commandPaths(): string[] {
  const program = new Program(memoryIo(), '0.0.0')
  registerCommands(program)
  const leaves = (command: Command): Command[] => command.commands.length === 0 ? [command] : command.commands.flatMap(leaves)
  return leaves(program.root).map((command) => {
    const words: string[] = []
    for (let at: Command | null = command; at !== null && at.parent !== null; at = at.parent) words.unshift(at.name())
    return words.join(' ')
  })
}

describe('docs/operations.md', () => {
  const rows = tableRows(read('docs/operations.md'), '| flag | config file | environment | what |')
  const flagsOf = (cell: string) => [...cell.matchAll(/`--([a-z-]+)[ `]/g)].map((match) => match[1])

  it('has a row for each annal serve setting, with its config key and variable, or — for none', () => {
    for (const { flag, key, variable } of SERVE_SETTINGS) {
      const row = rows.find(([flags]) => flagsOf(flags!).includes(flag))
      expect(row, `--${flag}`).toBeDefined()
      expect(row![1], `--${flag}'s key`).toMatch(key === undefined ? /^—$/ : new RegExp(`\`${key}\``))
      expect(row![2], `--${flag}'s variable`).toMatch(variable === undefined ? /^—$/ : new RegExp(`\`${variable}\``))
    }
  })

  it('names no flag that annal serve does not take', () => {
    const known = SERVE_SETTINGS.map((setting) => setting.flag)
    expect(rows.flatMap(([flags]) => flagsOf(flags!)).filter((flag) => !known.includes(flag!))).toEqual([])
  })
})

describe('annal serve --help', () => {
  it('names every flag, config key and variable', () => {
    for (const { flag, key, variable } of SERVE_SETTINGS) {
      expect(SERVE_USAGE).toContain(`--${flag} `)
      if (key !== undefined) expect(SERVE_USAGE).toMatch(new RegExp(`\\b${key}\\b`))
      if (variable !== undefined) expect(SERVE_USAGE).toContain(variable)
    }
  })
})

describe('README.md\'s layout', () => {
  const layout = read('README.md').split('## Layout')[1]!

  it('lists every package and every document in docs/', () => {
    for (const name of readdirSync(join(root, 'packages'))) expect(layout).toContain(`\`packages/${name}\``)
    for (const name of readdirSync(join(root, 'docs')).filter((file) => file.endsWith('.md'))) expect(layout).toContain(`\`${name}\``)
  })
})

describe('docs/architecture.md', () => {
  it('names every annal command in the CLI row', () => {
    const row = read('docs/architecture.md').split('\n').find((line) => line.startsWith('| `@annal/cli` |'))!
    for (const path of commandPaths()) expect(row, path).toMatch(new RegExp(`\`(?:annal )?${path}\``))
  })
})

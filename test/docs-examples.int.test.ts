/**
 * Runs every shell and TypeScript example in README.md and docs/*.md, so that the docs cannot
 * drift from the code.
 *
 * - Every fenced block names its language. Blocks in ts, typescript, js or javascript and in sh,
 *   bash, shell or console (the lines after a `$ ` prompt) run; the others (text, json, html)
 *   are shown, not run. A runnable block that cannot run says why in an HTML comment on the
 *   line right before its fence, `<!-- not run: why -->`; keep those for what cannot run here
 *   (a server that runs until stopped, a production URL).
 * - Each document gets a fresh temporary directory, and its blocks run there in document order,
 *   each on its own: files carry over from block to block, shell variables do not.
 * - A shell block runs under `bash -euo pipefail` with the workspace's `annal` first on PATH,
 *   no ANNAL_* variables from outside, `curl` failing on an HTTP error status
 *   (`--fail-with-body`), and `npx annal` running that `annal` (as it does in a clone). A TypeScript block is a module of its own, run with tsx from a file
 *   beside this one (so that `@annal/*` resolve) with that directory as its working directory.
 *   A block passes when it exits 0. `# -> output` comments are for the reader and are not
 *   checked.
 * - One `annal serve --dev` runs for the whole file, and the documents run against it in turn,
 *   README.md first, as a reader who took its tour. In every block, `localhost:8080` and
 *   `127.0.0.1:8080` (the address `npm start` serves) become that server's address, and
 *   `port: 8080` (a server an example starts itself) becomes `port: 0`. The banner's tokens
 *   are TOKEN, the appender's, and ANNAL_TOKEN, the admin's: a shell assignment of `...`
 *   (`TOKEN=...`) becomes the token, and TypeScript finds them in `process.env`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DocBlock, extractBlocks } from './doc-blocks.js'
import { killStarted, startAnnal } from './process.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = dirname(here)
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)]
const blocks = new Map(documents.map((document) => [document, extractBlocks(readFileSync(join(root, document), 'utf8'))]))

// tsx's loader by its full URL: a bare `--import tsx` would be looked up from the block's directory.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const BANNER = /try:\n[\s\S]*proof\/inclusion/
let address = ''
const placeholders = new Map<string, string>()
const directories = new Map<string, string>()
/** Process groups of blocks still running, killed when the file is done should a block never end. */
const groups = new Set<number>()

beforeAll(async () => {
  const data = await mkdtemp(join(tmpdir(), 'annal-docs-server-'))
  directories.set('server', data)
  const banner = (await startAnnal(['serve', '--dev', '--data', data, '--port', '0'], BANNER).matched).input
  address = /serving .* on http:\/\/(127\.0\.0\.1:\d+)/.exec(banner)![1]!
  const token = (role: string) => new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!
  placeholders.set('TOKEN', token('appender')).set('ANNAL_TOKEN', token('admin'))
})

afterAll(async () => {
  for (const group of groups) killGroup(group)
  await killStarted()
  await Promise.all([...directories.values()].map((directory) => rm(directory, { recursive: true, force: true })))
})

/** The block's code as it runs against the test's server (see the top of this file). */
function prepare(block: DocBlock): string {
  return block.code
    .replace(/\b(?:localhost|127\.0\.0\.1):8080\b/g, address)
    .replace(/\bport: 8080\b/g, 'port: 0')
    .replace(/\b([A-Z_]+)=\.\.\.(?=\s)/g, (_, name: string) => {
      const value = placeholders.get(name)
      if (value === undefined) throw new Error(`no value for the placeholder ${name}=...`)
      return `${name}=${value}`
    })
}

async function directoryOf(document: string): Promise<string> {
  let directory = directories.get(document)
  if (directory === undefined) {
    directory = await mkdtemp(join(tmpdir(), 'annal-docs-'))
    directories.set(document, directory)
  }
  return directory
}

/** The environment blocks run in: ours without ANNAL_*, with the workspace's npm bin first on PATH. */
function environment(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ANNAL_')))
  return { ...env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` }
}

// Shell blocks use curl -s, which would exit 0 on a 401 or a 404. `npx annal`, which in a clone
// runs the workspace's bin, runs it here too; npx fetching anything from the registry would not.
const CURL = 'curl() { command curl --fail-with-body "$@"; }\n' +
  'npx() { if [ "$1" = annal ]; then shift; annal "$@"; else echo "npx $1: only npx annal runs here" >&2; return 1; fi; }\n'

function killGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL')
  } catch {
    // The group is gone: nothing of it runs.
  }
}

/**
 * Runs `command` in its own process group until it exits, then kills what is left of the group
 * (a block's background job), and throws with its output unless it exited 0.
 */
async function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, where: string): Promise<void> {
  const child: ChildProcess = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const closed = new Promise((resolve) => child.on('close', resolve))
  groups.add(child.pid!)
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('exit', resolve))
  killGroup(child.pid!)
  groups.delete(child.pid!)
  await closed // all its output, now that nothing of the group holds the pipes open
  if (code !== 0) throw new Error(`${where} exited ${code}:\n${output}`)
}

async function runBlock(document: string, block: DocBlock): Promise<void> {
  const cwd = await directoryOf(document)
  const where = `${document}:${block.line}`
  if (block.kind === 'sh') return run('bash', ['-euo', 'pipefail', '-c', CURL + prepare(block)], environment(), cwd, where)
  const file = join(here, `.doc-example-${randomUUID()}.ts`)
  await writeFile(file, prepare(block))
  try {
    await run(process.execPath, ['--import', tsx, '--conditions=source', file], { ...environment(), ...Object.fromEntries(placeholders) }, cwd, where)
  } finally {
    await rm(file, { force: true })
  }
}

it('every fenced block names its language, and every runnable one runs or says why not', () => {
  const unnamed = [...blocks].flatMap(([document, found]) => found.filter((block) => block.info === '').map((block) => `${document}:${block.line}`))
  expect(unnamed, 'blocks with no language after the fence').toEqual([])
  const marked = [...blocks].flatMap(([document, found]) => found.filter((block) => block.notRun !== undefined && block.kind === undefined).map((block) => `${document}:${block.line}`))
  expect(marked, '"not run" marks on blocks that never run').toEqual([])
})

for (const [document, found] of blocks) {
  const runnable = found.filter((block) => block.kind !== undefined && block.notRun === undefined)
  if (runnable.length === 0) continue
  describe(document, () => {
    for (const block of runnable) it(`line ${block.line} (${block.info})`, () => runBlock(document, block))
  })
}

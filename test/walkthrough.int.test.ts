// docs/witness.md's walkthrough, run as written: its fenced blocks are taken from the doc, their
// <...> placeholders filled from what earlier steps printed, and the fixed addresses mapped to
// the ports really bound (port 0), through real `annal` processes and curl in a temp directory.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parsePolicy, verifyCheckpoint } from '@annal/client'
import { afterEach, describe, expect, it } from 'vitest'
import { annalBin, killStarted, startAnnal } from './process.js'

const run = promisify(execFile)
const SECTION = '## Walkthrough: one log and two witnesses'
let directory: string | undefined

afterEach(async () => {
  await killStarted()
  if (directory !== undefined) await rm(directory, { recursive: true, force: true })
})

/** The section's fenced blocks, in order: [language, text]. */
async function blocks(): Promise<[string, string][]> {
  const doc = await readFile(new URL('../docs/witness.md', import.meta.url), 'utf8')
  const start = doc.indexOf(`${SECTION}\n`)
  expect(start).toBeGreaterThan(-1)
  const end = doc.indexOf('\n## ', start + SECTION.length)
  const section = doc.slice(start, end === -1 ? undefined : end)
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => [match[1]!, match[2]!.trimEnd()])
}

/** `npx annal a "b c" d` as arguments after `annal`; only double quotes, as the doc writes them. */
function annalArgs(command: string): string[] {
  expect(command.startsWith('npx annal ')).toBe(true)
  return [...command.slice('npx annal '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!)
}

/** Polls `probe` every 100 ms until `done` holds, for up to 30 s. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('docs/witness.md walkthrough', () => {
  it('ends with a checkpoint that both witnesses cosigned, verified under a 2-of-2 policy', async () => {
    const cwd = directory = await mkdtemp(join(tmpdir(), 'annal-walkthrough-'))
    const found = await blocks()
    expect(found.map(([language]) => language)).toEqual([...Array(7).fill('sh'), 'text'])
    const [createLog, witness1, witness2, serve, policy, append, count, clientPolicy] = found.map(([, text]) => text) as
      [string, string, string, string, string, string, string, string]
    const values = new Map<string, string>()
    /** The block with each <NAME> filled, each doc address mapped to the bound one, and --port/--listen made 0. */
    const fill = (text: string) => {
      let filled = text.replace(/<([A-Z0-9_]+)>/g, (whole, name: string) => values.get(name) ?? whole)
      for (const [address, bound] of values) if (address.includes(':')) filled = filled.replaceAll(address, bound)
      filled = filled.replace(/--port \d+/, '--port 0').replace(/--listen 127\.0\.0\.1:\d+/, '--listen 127.0.0.1:0')
      expect(filled).not.toMatch(/<[A-Z0-9_]+>/)
      return filled
    }
    const sh = async (text: string) => (await run('sh', ['-c', fill(text)], { cwd })).stdout

    // 1: init makes the ledger and its log, and prints the log's key; nothing keeps running.
    const init = await run(process.execPath, [annalBin, ...annalArgs(fill(createLog))], { cwd })
    values.set('LOG_KEY', /verifier key: (\S+)\n/.exec(init.stdout)![1]!)

    // 2, 3: the witnesses print their URL and key.
    for (const [block, name, address] of [[witness1, 'W1_KEY', '127.0.0.1:7381'], [witness2, 'W2_KEY', '127.0.0.1:7382']] as const) {
      expect(block).toContain(`--listen ${address}`)
      const witness = startAnnal(annalArgs(fill(block)), /listening on http:\/\/(\S+)\nverifier key: (\S+)\n/, {}, cwd)
      const [, bound, key] = await witness.matched
      values.set(name, key!)
      values.set(`http://${address}`, `http://${bound}`)
    }

    // 4: the server with both witnesses prints its tokens.
    const server = startAnnal(annalArgs(fill(serve)), /try:\n/, {}, cwd)
    const banner = (await server.matched).input
    expect(banner).toContain('no log is witnessed until it is given a policy')
    values.set('http://127.0.0.1:8080', /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!)
    for (const role of ['admin', 'appender']) {
      values.set(`${role.toUpperCase()}_TOKEN`, new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!)
    }

    // 5, 6: the policy and an append answer JSON.
    expect(JSON.parse(await sh(policy))).toMatchObject({ name: 'main', witnessing: { k: 2 } })
    expect(JSON.parse(await sh(append))).toMatchObject({ index: 0 })

    // 7: two cosignature lines, once both witnesses have answered.
    await until(async () => (await sh(count).catch(() => '')).trim(), (lines) => lines === '2')

    // The client's check, with the doc's policy.
    const note = await (await fetch(`${values.get('http://127.0.0.1:8080')}/v1/logs/main/checkpoint`)).text()
    const trusted = verifyCheckpoint(note, parsePolicy(`${fill(clientPolicy)}\n`))
    expect([trusted.checkpoint.size, [...trusted.witnesses].sort()]).toEqual([1, ['w1', 'w2']])
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})

import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { type TestServer, testServer } from '../testing/server.js'

let tmp: string
let server: TestServer
let remoteEnv: Record<string, string>

beforeAll(async () => {
  server = await testServer()
  remoteEnv = { ANNAL_URL: server.url, ANNAL_TOKEN: await server.token('log:append log:read') }
})
afterAll(async () => server.close())
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'annal-cli-entries-'))
  expect(await main(['init'], memoryIo({ cwd: tmp }))).toBe(0)
})
afterEach(async () => rm(tmp, { recursive: true, force: true }))

async function run(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}) {
  const io = memoryIo({ cwd: options.cwd ?? tmp, env: options.env ?? {}, input: options.input })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

async function file(name: string, text: string): Promise<string> {
  await writeFile(join(tmp, name), text)
  return name
}

const leafId = (leaf: string | Uint8Array) => createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest('hex')

/** The local ledger, or the test server's log `main` (whose size the tests compare before and after). */
const places = [
  { name: 'locally', env: () => ({}) as Record<string, string> },
  { name: 'through a server', env: () => remoteEnv },
]

describe.each(places)('annal append, $name', ({ env }) => {
  async function size(): Promise<number> {
    const logs = JSON.parse((await run(['logs', '--json'], { env: env() })).stdout) as { logs: { name: string; size: number }[] }
    return logs.logs.find((log) => log.name === 'main')!.size
  }

  it('appends one JSON event and prints its index and abbreviated id', async () => {
    const before = await size()
    const { code, stdout } = await run(['append', await file('event.json', '{"actor":"alice","action":"login"}')], { env: env() })
    expect(code).toBe(0)
    expect(stdout).toMatch(new RegExp(`^appended 1 entry to main, ${before}, checkpoint size ${before + 1}\\n  ${before} [0-9a-f]{7,}\\n$`))
  })

  it('appends NDJSON by file name or --ndjson, and --json prints every id', async () => {
    const before = await size()
    const named = await run(['append', await file('events.ndjson', '{"n":1}\r\n{"n":2}\n{"n":3}')], { env: env() })
    expect(named.stdout).toContain(`appended 3 entries to main, ${before}..${before + 2}, checkpoint size ${before + 3}`)
    const piped = await run(['append', '-', '--ndjson', '--json'], { env: env(), input: '{"n":4}\n{"n":5}\n' })
    expect(piped.code).toBe(0)
    const printed = JSON.parse(piped.stdout) as { log: string; entries: { index: number; id: string; duplicate: boolean }[]; checkpoint: { size: number } }
    expect(printed.log).toBe('main')
    expect(printed.entries.map((entry) => entry.index)).toEqual([before + 3, before + 4])
    expect(printed.entries.every((entry) => /^[0-9a-f]{64}$/.test(entry.id) && !entry.duplicate)).toBe(true)
    expect(printed.checkpoint.size).toBe(before + 5)
  })

  it('refuses bad input with one sentence, appending nothing', async () => {
    const before = await size()
    const cases: [string[], string | undefined, RegExp][] = [
      [['append', '-'], '', /the body is empty \(ENTRY_EMPTY\)/],
      [['append', '-'], '{"a":', /the body is not valid JSON \(BODY_MALFORMED\)/],
      [['append', '-'], '{"a":1}\n{"b":2}\n', /the body is not valid JSON \(BODY_MALFORMED\)/],
      [['append', '-', '--ndjson'], '{"a":1}\n\n{"b":2}', /line 2 is empty \(BODY_MALFORMED\)/],
      [['append', '-', '--ndjson'], '{"a":1}\n{"b":2}\n{', /line 3 is not valid JSON \(BODY_MALFORMED\)/],
      [['append', '-'], `${'['.repeat(101)}${']'.repeat(101)}`, /deeper than 100 levels \(JSON_TOO_DEEP\)/],
      [['append', '-'], JSON.stringify({ big: 'x'.repeat(2 ** 20) }), /bodies are limited to 1048576 bytes \(BODY_TOO_LARGE\)/],
      [['append', '-', '--log', 'access'], '{}', /the access log is written by the server only \(LOG_RESERVED\)/],
    ]
    for (const [args, input, message] of cases) {
      const { code, stderr } = await run(args, { env: env(), input })
      expect(code, args.join(' ')).toBe(1)
      expect(stderr).toMatch(/^annal: [^\n]+\.\n$/)
      expect(stderr).toMatch(message)
    }
    const missing = await run(['append', 'missing.json'], { env: env() })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^annal: cannot read \S+missing\.json: ENOENT\.\n$/)
    expect(await size()).toBe(before)
  })

  it('appends a file larger than one request in batches, numbering the lines through', async () => {
    const before = await size()
    const lines = 10_001
    const text = Array.from({ length: lines }, (_, i) => `{"n":${i}}`).join('\n')
    const { code, stdout } = await run(['append', await file('big.ndjson', text), '--json'], { env: env() })
    expect(code).toBe(0)
    expect((JSON.parse(stdout) as { entries: unknown[] }).entries).toHaveLength(lines)
    expect(await size()).toBe(before + lines)
    const last = JSON.parse((await run(['show', String(before + lines - 1), '--json'], { env: env() })).stdout) as Record<string, any>
    expect(last.payload).toEqual({ n: lines - 1 })
  })
})

describe('local and remote appends', () => {
  it('refuse the same input with the same sentence', async () => {
    for (const input of ['', '{"a":', '[1', '{"a":1}\n\n']) {
      for (const ndjson of [[], ['--ndjson']]) {
        const local = await run(['append', '-', ...ndjson], { input })
        const remote = await run(['append', '-', ...ndjson], { input, env: remoteEnv })
        expect({ code: remote.code, stderr: remote.stderr }).toEqual({ code: local.code, stderr: local.stderr })
      }
    }
  })

  it('refuse an unknown log, and a server append without the scope', async () => {
    const local = await run(['append', '-', '--log', 'nope'], { input: '{}' })
    expect(local.code).toBe(1)
    expect(local.stderr).toMatch(/^annal: there is no log nope in \S+\.annal; see 'annal logs'\.\n$/)
    const reader = await run(['append', '-'], { input: '{}', env: { ANNAL_URL: server.url, ANNAL_TOKEN: await server.token('log:read') } })
    expect(reader.code).toBe(1)
    expect(reader.stderr).toMatch(/^annal: this route needs log:append:main \(INSUFFICIENT_SCOPE\)\.\n$/)
  })
})

describe.each(places)('annal log and annal show, $name', ({ env }) => {
  let ids: string[]
  let first: number

  beforeEach(async () => {
    const appended = await run(['append', '-', '--ndjson', '--json'], { env: env(), input: '{"n":"a"}\n{"n":"b"}\n{"n":"c"}\n' })
    const entries = (JSON.parse(appended.stdout) as { entries: { index: number; id: string }[] }).entries
    ids = entries.map((entry) => entry.id)
    first = entries[0]!.index
  })

  it('log shows entries newest first; --oneline, -n and --json', async () => {
    const full = await run(['log', '-n', '2'], { env: env() })
    expect(full.code).toBe(0)
    expect(full.stdout.match(/^entry [0-9a-f]{64}$/gm)).toEqual([`entry ${ids[2]}`, `entry ${ids[1]}`])
    expect(full.stdout).toContain(`Index: ${first + 2}\nTime:  `)
    expect(full.stdout).toContain('\n    {"n":"c"}\n')
    const oneline = await run(['log', '--oneline', '-n', '3'], { env: env() })
    const lines = oneline.stdout.trim().split('\n')
    expect(lines).toHaveLength(3)
    lines.forEach((line, i) => {
      const [abbreviation, index] = line.split(' ')
      expect(ids[2 - i]!.startsWith(abbreviation!)).toBe(true)
      expect(abbreviation!.length).toBeGreaterThanOrEqual(7)
      expect(Number(index)).toBe(first + 2 - i)
    })
    expect(lines[0]).toMatch(/ \d{4}-\d\d-\d\dT[\d:.]+Z \{"n":"c"\}$/)
    const json = await run(['log', '--json', '-n', '2'], { env: env() })
    const views = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>)
    expect(views.map((view) => [view.index, view.id, view.payload])).toEqual([[first + 2, ids[2], { n: 'c' }], [first + 1, ids[1], { n: 'b' }]])
    const bad = await run(['log', '-n', 'lots'], { env: env() })
    expect(bad.code).toBe(2)
  })

  it('show finds an entry by index, id or prefix, from a subdirectory, as the API serves it', async () => {
    await mkdir(join(tmp, 'a', 'b'), { recursive: true })
    const cwd = join(tmp, 'a', 'b')
    const byPrefix = await run(['show', ids[1]!.slice(0, 16), '--json'], { env: env(), cwd })
    expect(byPrefix.code).toBe(0)
    const view = JSON.parse(byPrefix.stdout) as Record<string, any>
    expect(view).toMatchObject({ index: first + 1, id: ids[1], payload: { n: 'b' } })
    expect((await run(['show', ids[1]!, '--json'], { env: env(), cwd })).stdout).toBe(byPrefix.stdout)
    expect((await run(['show', String(first + 1), '--json'], { env: env(), cwd })).stdout).toBe(byPrefix.stdout)
    const text = await run(['show', String(first + 1)], { env: env(), cwd })
    expect(text.stdout).toContain(`entry ${ids[1]}\nIndex:   ${first + 1}\n`)
    expect(text.stdout).toMatch(/^Object: {2}sha256:[0-9a-f]{64} \(application\/json, 9 bytes\)$/m)
    expect(text.stdout).toContain('\n{\n  "n": "b"\n}\n')
  })

  it('show --leaf writes the exact bytes the id hashes', async () => {
    const io = memoryIo({ cwd: tmp, env: env() })
    const written: Uint8Array[] = []
    const leafIo = { ...io, write: (bytes: Uint8Array | string) => void written.push(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes) }
    expect(await main(['show', ids[2]!.slice(0, 16), '--leaf'], leafIo)).toBe(0)
    expect(written).toHaveLength(1)
    expect(leafId(written[0]!)).toBe(ids[2])
    expect(JSON.parse(new TextDecoder().decode(written[0]!))).toMatchObject({ type: 'annal.event/v1', line: 3 })
  })

  it('show refuses what names no entry', async () => {
    const cases: [string[], number, RegExp][] = [
      [['show', '999999'], 1, /^annal: log main has no entry 999999: it holds \d+ entries\.\n$/],
      [['show', 'ffffffffffffffffff'], 1, /^annal: no entry of log main has an id starting with f{18}\.\n$/],
      [['show', 'xyz'], 2, /^annal: xyz is neither an index nor an id \(4 to 64 lowercase hex digits\)\.\n$/],
      [['show', '0', '--leaf', '--json'], 2, /^annal: show takes --leaf or --json, not both\.\n$/],
    ]
    for (const [args, code, message] of cases) {
      const result = await run(args, { env: env() })
      expect(result.code, args.join(' ')).toBe(code)
      expect(result.stderr).toMatch(message)
    }
  })
})

describe('an ambiguous prefix', () => {
  it('is refused with the number of candidates, locally and through a server', async () => {
    const text = Array.from({ length: 2000 }, (_, i) => `{"i":${i}}`).join('\n')
    for (const env of [{}, remoteEnv]) {
      expect((await run(['append', '-', '--ndjson', '--json'], { input: text, env })).code).toBe(0)
      // Every id in the log, not only these: earlier appends share prefixes with them too.
      const listed = await run(['log', '--json'], { env })
      const ids = listed.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id)
      expect(ids.length).toBeGreaterThanOrEqual(2000)
      const seen = new Map<string, number>()
      for (const id of ids) seen.set(id.slice(0, 4), (seen.get(id.slice(0, 4)) ?? 0) + 1)
      // 2,000 ids in 65,536 four-digit prefixes share one with near certainty.
      const [prefix, count] = [...seen].find(([candidate, n]) => n > 1 && /[a-f]/.test(candidate))!
      const { code, stderr } = await run(['show', prefix], { env })
      expect(code).toBe(1)
      expect(stderr).toMatch(new RegExp(`^annal: the id prefix ${prefix} matches (at least )?\\d+ entries; give more of its digits\\.\\n$`))
      if (env === remoteEnv || count < 10) expect(stderr).toContain(`matches ${count >= 10 ? 'at least 10' : count} entries`)
    }
  })
})

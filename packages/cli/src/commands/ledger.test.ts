import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseVerifierKey } from '@annal/note'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { type TestServer, testServer } from '../testing/server.js'

let tmp: string
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'annal-cli-ledger-'))
})
afterEach(async () => rm(tmp, { recursive: true, force: true }))

async function run(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const io = memoryIo({ cwd: options.cwd ?? tmp, env: options.env ?? {} })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

/** One sentence on stderr, `annal: ... .` */
function expectSentence(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(/^annal: [^\n]+\.\n$/)
  expect(stderr).toMatch(pattern)
}

describe('annal init', () => {
  it('makes .annal with the log main and prints its verifier key', async () => {
    const { code, stdout } = await run(['init'])
    expect(code).toBe(0)
    const name = tmp.split('/').at(-1)
    expect(stdout).toContain(`Initialized an empty Annal ledger in ${join(tmp, '.annal')}`)
    expect(stdout).toContain(`log main, origin annal.local/${name}/main`)
    const key = /verifier key: (\S+)/.exec(stdout)![1]!
    expect(parseVerifierKey(key).name).toBe(`annal.local/${name}/main`)
    expect((await run(['logs', '--json'])).stdout).toContain(key)
  })

  it('takes a directory and an origin, and prints JSON', async () => {
    const { code, stdout } = await run(['init', 'a b+c', '--origin', 'example.com/audit', '--json'])
    expect(code).toBe(0)
    const printed = JSON.parse(stdout) as Record<string, string>
    expect(printed).toEqual({ directory: join(tmp, 'a b+c', '.annal'), log: 'main', origin: 'example.com/audit', verifier_key: printed.verifier_key })
    expect(parseVerifierKey(printed.verifier_key!).name).toBe('example.com/audit')
    const plain = await run(['init', 'a b+c/inner', '--json'])
    expect(JSON.parse(plain.stdout).origin).toBe('annal.local/inner/main')
  })

  it('refuses a directory that has a ledger, and changes nothing', async () => {
    await run(['init'])
    const before = (await run(['logs', '--json'])).stdout
    const again = await run(['init', '--url', 'http://127.0.0.1:1'])
    expect(again.code).toBe(1)
    expectSentence(again.stderr, /\.annal exists already; annal init does not overwrite a ledger/)
    expect((await run(['logs', '--json'])).stdout).toBe(before)
  })

  it('refuses a bad origin and leaves no .annal behind', async () => {
    const { code, stderr } = await run(['init', '--origin', 'has space'])
    expect(code).toBe(1)
    expectSentence(stderr, /origin/)
    expect(existsSync(join(tmp, '.annal'))).toBe(false)
  })

  it('--url writes a config instead of a database', async () => {
    const { code, stdout } = await run(['init', '--url', 'https://annal.example', '--json'])
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ directory: join(tmp, '.annal'), url: 'https://annal.example' })
    expect(JSON.parse(await readFile(join(tmp, '.annal', 'config'), 'utf8'))).toEqual({ url: 'https://annal.example' })
    expect(existsSync(join(tmp, '.annal', 'db'))).toBe(false)
    const bad = await run(['init', 'other', '--url', 'ftp://x'])
    expect(bad.code).toBe(2)
    expectSentence(bad.stderr, /must start with http:\/\/ or https:\/\//)
    expect(existsSync(join(tmp, 'other', '.annal'))).toBe(false)
  })
})

describe('annal logs, locally', () => {
  it('lists logs with size and key, creates logs, and refuses a second with the same name', async () => {
    await run(['init'])
    const created = await run(['logs', 'create', 'payments', '--origin', 'example.com/payments', '--json'])
    expect(created.code).toBe(0)
    const info = JSON.parse(created.stdout) as Record<string, unknown>
    expect(info).toMatchObject({ name: 'payments', origin: 'example.com/payments', size: 0 })
    await mkdir(join(tmp, 'deep', 'er'), { recursive: true })
    const listed = await run(['logs'], { cwd: join(tmp, 'deep', 'er') })
    expect(listed.code).toBe(0)
    expect(listed.stdout.split('\n')).toContain(`payments  0  ${info.verifier_key}`)
    const text = await run(['logs', 'create', 'audit'])
    // The origin prefix of a local ledger is the one annal init gave its log main.
    expect(text.stdout).toMatch(new RegExp(`^created log audit, origin annal\\.local/${tmp.split('/').at(-1)}/audit\nverifier key: \\S+\n$`))
    const taken = await run(['logs', 'create', 'other', '--origin', 'example.com/payments'])
    expect(taken.code).toBe(1)
    expectSentence(taken.stderr, /another log of this ledger has that origin \(ORIGIN_EXISTS\)/)
    const twice = await run(['logs', 'create', 'payments'])
    expect(twice.code).toBe(1)
    expectSentence(twice.stderr, /a log with that name exists \(LOG_EXISTS\)/)
    const badName = await run(['logs', 'create', 'Bad_Name'])
    expect(badName.code).toBe(1)
    expectSentence(badName.stderr, /LOG_NAME_INVALID/)
  })

  it('takes an empty ANNAL_URL or ANNAL_DIR as unset', async () => {
    await run(['init'])
    const { code, stdout } = await run(['logs', '--json'], { env: { ANNAL_URL: '', ANNAL_DIR: '' } })
    expect(code).toBe(0)
    expect(JSON.parse(stdout).logs[0].name).toBe('main')
  })

  it('says where to make a ledger when there is none', async () => {
    const { code, stderr } = await run(['logs'])
    expect(code).toBe(2)
    expectSentence(stderr, /no \.annal here or in a parent directory; run 'annal init'/)
  })
})

describe('annal logs, through a server', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await testServer()
  })
  afterAll(async () => server.close())

  it('lists the server\'s logs and creates one with log:admin', async () => {
    const env = { ANNAL_URL: server.url, ANNAL_TOKEN: await server.token('log:admin') }
    const created = await run(['logs', 'create', 'remote-one', '--json'], { env })
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'remote-one', size: 0 })
    const listed = await run(['logs', '--json'], { env })
    const names = (JSON.parse(listed.stdout) as { logs: { name: string }[] }).logs.map((log) => log.name)
    expect(names).toEqual(expect.arrayContaining(['main', 'access', 'remote-one']))
    expect((await run(['logs', '--url', server.url])).stdout).toMatch(/^main +0 +annal\.test\/main\+/m)
  })

  it('refuses to create a log without a token or without the scope', async () => {
    const anonymous = await run(['logs', 'create', 'nope', '--url', server.url])
    expect(anonymous.code).toBe(1)
    expectSentence(anonymous.stderr, /this route needs an access token; set ANNAL_TOKEN \(TOKEN_MISSING\)/)
    const reader = await run(['logs', 'create', 'nope'], { env: { ANNAL_URL: server.url, ANNAL_TOKEN: await server.token('log:read') } })
    expect(reader.code).toBe(1)
    expectSentence(reader.stderr, /needs log:admin:nope \(INSUFFICIENT_SCOPE\)/)
    expect(server.ledger.logs().map((log) => log.name)).not.toContain('nope')
  })

  it('says when the server cannot be reached', async () => {
    const { code, stderr } = await run(['logs', '--url', 'http://127.0.0.1:9'])
    expect(code).toBe(1)
    expectSentence(stderr, /cannot reach http:\/\/127\.0\.0\.1:9/)
  })
})

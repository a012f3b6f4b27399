import { createServer } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SIGNATURE_TYPE_COSIGNATURE_V1, formatAddCheckpoint, generateKeyPair, parseSignerKey, signCheckpoint } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { splitKeyUrl } from './config.js'
import { UsageError } from './failure.js'
import { memoryIo } from './io.js'
import { main } from './main.js'
import { witnessServe } from './witness.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A tile server that records the paths asked for and has no tiles (404). */
async function recorder(): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = []
  const server = createServer((request, response) => {
    paths.push(request.url ?? '')
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  cleanups.push(() => new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs/audit`, paths }
}

async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 10_000) throw new Error('not within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('splitKeyUrl', () => {
  it('splits at the @ that starts an http(s) URL only', () => {
    const { verifierKey } = generateKeyPair('log.example/audit')
    expect(splitKeyUrl(`${verifierKey}@https://log.example/v1/logs/audit`))
      .toEqual({ verifierKey, url: 'https://log.example/v1/logs/audit' })
    expect(splitKeyUrl(verifierKey)).toEqual({ verifierKey, url: undefined })
    expect(splitKeyUrl('a@b+1234abcd+AAAA@http://x')).toEqual({ verifierKey: 'a@b+1234abcd+AAAA', url: 'http://x' })
  })
})

describe('annal witness serve --log VKEY@URL', () => {
  const keys = generateKeyPair('log.example/audit')
  const tree = new MemoryTree()
  tree.appendMany(Array.from({ length: 10 }, (_, i) => defaultHasher.leaf(new Uint8Array([i]))))
  const signer = parseSignerKey(keys.signerKey)
  const checkpoint = (size: number) => signCheckpoint({ origin: 'log.example/audit', size, rootHash: tree.root(size), extensions: [] }, signer)

  async function serveWith(args: string[]): Promise<void> {
    const data = await mkdtemp(join(tmpdir(), 'annal-cli-witness-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    const tiles = await recorder()
    const lines: string[] = []
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => { stop = resolve })
    const exited = witnessServe(args.map((arg) => arg.replace('DATA', data).replace('TILES', tiles.url)), (line) => lines.push(line), stopped)
    await until(() => lines.length > 0)
    const url = /listening on (\S+)/.exec(lines[0]!)![1]!
    const added = await fetch(`${url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint(0, [], checkpoint(5)) })
    expect(added.status).toBe(200)
    // A larger checkpoint from gossip: the witness asks the log's tiles, in the background.
    const gossip = await fetch(`${url}/v1/gossip`, { method: 'POST', body: checkpoint(10) })
    expect(await gossip.json()).toEqual({ result: 'pending' })
    await until(() => tiles.paths.length > 0)
    expect(tiles.paths[0]).toBe('/v1/logs/audit/tile/0/000')
    stop()
    expect(await exited).toBe(0)
  }

  it('passes the URL from a flag to the witness, which reads tiles there', async () => {
    await serveWith(['--data', 'DATA', '--name', 'witness.example/cli', '--log', `${keys.verifierKey}@TILES`])
  })

  it('takes VKEY@URL in the config file too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-cli-witness-config-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const config = join(dir, 'witness.json')
    const tiles = await recorder()
    await writeFile(config, JSON.stringify({ name: 'witness.example/cli', logs: [`${keys.verifierKey}@${tiles.url}`] }))
    const data = join(dir, 'state')
    const lines: string[] = []
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => { stop = resolve })
    const exited = witnessServe(['--config', config, '--data', data], (line) => lines.push(line), stopped)
    await until(() => lines.length > 0)
    const url = /listening on (\S+)/.exec(lines[0]!)![1]!
    expect((await fetch(`${url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint(0, [], checkpoint(5)) })).status).toBe(200)
    expect(await (await fetch(`${url}/v1/gossip`, { method: 'POST', body: checkpoint(3) })).json()).toEqual({ result: 'older' })
    await until(() => tiles.paths.length > 0)
    expect(tiles.paths[0]).toBe('/v1/logs/audit/tile/0/000')
    stop()
    expect(await exited).toBe(0)
  })

  it('refuses a log URL with a query or fragment, as a usage error', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-cli-witness-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    for (const url of ['http://127.0.0.1:1/log?x=1', 'http://127.0.0.1:1/log#x']) {
      await expect(witnessServe(['--data', data, '--name', 'witness.example/cli', '--log', `${keys.verifierKey}@${url}`],
        () => undefined, Promise.resolve())).rejects.toThrow(UsageError)
    }
  })
})

describe('annal witness serve deadlines', () => {
  const keys = generateKeyPair('log.example/deadlines')

  /** Serves with `args` (DATA: a temp directory), sends `head`, and resolves with the reply once the witness closed. */
  async function slowRequestTo(args: string[], head: string): Promise<string> {
    const data = await mkdtemp(join(tmpdir(), 'annal-cli-witness-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    const lines: string[] = []
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => { stop = resolve })
    const exited = witnessServe(args.map((arg) => arg.replace('DATA', data)), (line) => lines.push(line), stopped)
    await until(() => lines.length > 0)
    const url = new URL(/listening on (\S+)/.exec(lines[0]!)![1]!)
    const reply = await new Promise<string>((resolve) => {
      let received = ''
      const socket = connect(Number(url.port), '127.0.0.1', () => socket.write(head))
      socket.on('data', (chunk) => { received += chunk.toString() })
      socket.on('close', () => resolve(received))
    })
    stop()
    expect(await exited).toBe(0)
    return reply
  }

  const base = ['--data', 'DATA', '--name', 'witness.example/cli', '--log', keys.verifierKey]
  const stalledBody = 'POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold 0\n'
  // Whichever deadline is shorter answers a stalled body: the body's with a problem, the
  // request's with Node's bare 408. The defaults (20 s and 30 s) would give the problem.
  const bare408 = /^HTTP\/1\.1 408 [^\r]*\r\n(?:[^\r]+\r\n)*\r\n$/
  const problem408 = /^HTTP\/1\.1 408 [\s\S]*\r\n\r\n\{.*"code":"BODY_TIMEOUT"/

  it('passes --request-timeout and --body-timeout to the witness', async () => {
    expect(await slowRequestTo([...base, '--request-timeout', '300'], stalledBody)).toMatch(bare408)
    expect(await slowRequestTo([...base, '--request-timeout', '10000', '--body-timeout', '300'], stalledBody)).toMatch(problem408)
  })

  it('takes requestTimeoutMs and bodyTimeoutMs from the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-cli-witness-config-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const request = join(dir, 'request.json')
    await writeFile(request, JSON.stringify({ requestTimeoutMs: 300 }))
    expect(await slowRequestTo([...base, '--config', request], stalledBody)).toMatch(bare408)
    const body = join(dir, 'body.json')
    await writeFile(body, JSON.stringify({ requestTimeoutMs: 10_000, bodyTimeoutMs: 300 }))
    expect(await slowRequestTo([...base, '--config', body], stalledBody)).toMatch(problem408)
  })

  it('refuses a deadline that is not a positive whole number of milliseconds', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-cli-witness-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    const args = base.map((arg) => arg.replace('DATA', data))
    for (const value of ['0', '-1', '1.5', '30s', '']) {
      await expect(witnessServe([...args, `--request-timeout=${value}`], () => undefined, Promise.resolve()))
        .rejects.toThrow(UsageError)
    }
    const config = join(data, 'witness.json')
    await writeFile(config, JSON.stringify({ bodyTimeoutMs: '300' }))
    await expect(witnessServe([...args, '--config', config], () => undefined, Promise.resolve())).rejects.toThrow(UsageError)
  })
})

describe('annal witness serve refusals', () => {
  const logKey = generateKeyPair('log.example/audit').verifierKey
  const witnessKey = generateKeyPair('w.example', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey

  /** Runs `annal witness serve ...` expecting a refusal: its exit code and the lines on stderr. */
  async function refused(args: string[]): Promise<{ code: number; lines: string[] }> {
    const data = await mkdtemp(join(tmpdir(), 'annal-cli-witness-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    const io = memoryIo({ cwd: data })
    const code = await main(['witness', 'serve', '--data', join(data, 'state'), '--name', 'w.example',
      ...args.map((arg) => arg.replace('DIR', data))], io)
    expect(io.stdout).toBe('')
    return { code, lines: io.stderr.trim().split('\n') }
  }

  it('exits 2 for settings the witness cannot work with, saying which', async () => {
    expect(await refused(['--log', logKey, '--listen', 'nowhere'])).toEqual({ code: 2, lines: ['annal: listen must be host:port.'] })
    expect(await refused(['--log', logKey, '--admin', '0.0.0.0:0'])).toEqual({ code: 2, lines: ['annal: admin must listen on loopback.'] })
    expect(await refused(['--log', witnessKey])).toEqual({ code: 2, lines: ['annal: log keys must be Ed25519 (0x01) keys.'] })
    expect(await refused(['--log', 'bogus'])).toEqual({ code: 2, lines: ['annal: --log (logs in the config file): a log\'s verifier key is malformed.'] })
  })

  it('refuses an unknown config key, naming the closest known one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-cli-witness-config-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const config = join(dir, 'witness.json')
    await writeFile(config, JSON.stringify({ log: [logKey] }))
    expect(await refused(['--config', config])).toEqual({ code: 2, lines: [`annal: ${config} has an unknown key "log"; did you mean "logs"?`] })
  })
})

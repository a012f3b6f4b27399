// One log and three witnesses (runWitness: real LevelDB, real HTTP on 127.0.0.1, real keys) with
// a 2-of-3 policy: the log's checkpoint endpoint carries cosignatures that verify, keeps
// working as witnesses go down, and a restarted witness submitter recovers through 409.
import { mkdtemp, rm } from 'node:fs/promises'
import { type IncomingMessage, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Cosignature, SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair, openCheckpoint, parseVerifierKey, verifyCosignatures,
} from '@annal/note'
import { Ledger } from '@annal/store'
import { type RunningWitness, runWitness } from '@annal/witness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AnnalApp, type RunningServer, type WitnessConfig, appWitnessing, createApp, serve } from '@annal/server'
// The server package's own test fixtures: a real JWKS endpoint and real signed tokens.
import { TestAuthServer } from '../packages/server/src/testing/auth-server.js'
import { Mint, bearer, jwksOf, signingKey } from '../packages/server/src/testing/fixture.js'

const ISSUER = 'https://issuer.cosign.test'
const AUDIENCE = 'http://annal.cosign.test/'
const FAST = { pollIntervalMs: 20, timeoutMs: 1_000, backoffMs: 50, maxBackoffMs: 200 }

let directory: string
let ledger: Ledger
let auth: TestAuthServer
let mint: Mint
let app: AnnalApp
let server: RunningServer
let logKey: string
const witnesses: (RunningWitness | undefined)[] = []
/** The witnesses as last started; a restarted witness keeps its key and gets a new port. */
const started: WitnessConfig[] = []

async function startWitness(i: number): Promise<void> {
  const name = `w${i}.cosign.test`
  const running = await runWitness({ data: join(directory, `w${i}`), name, logs: [logKey] })
  witnesses[i] = running
  started[i] = { name, url: running.url, verifierKey: running.verifierKey }
}

async function stopWitness(i: number): Promise<void> {
  await witnesses[i]!.close()
  witnesses[i] = undefined
}

function configs(): WitnessConfig[] {
  return [...started]
}

async function makeApp(): Promise<AnnalApp> {
  const jwksUrl = auth.jwksUrl
  return createApp({
    ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, jwksCooldownMs: 0 },
    witnesses: configs(), policy: { k: 2 }, witnessing: FAST,
  })
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-cosign-int-'))
  ledger = await Ledger.open(join(directory, 'ledger'), { originPrefix: 'annal.cosign.test' })
  logKey = (await ledger.createLog('audit')).verifierKey
  const key = await signingKey('ES256')
  auth = await TestAuthServer.start(jwksOf(key))
  mint = new Mint(key, ISSUER, AUDIENCE)
  for (let i = 0; i < 3; i++) await startWitness(i)
  app = await makeApp()
  server = await serve(app, { requestTimeoutMs: 5_000 })
  // The log's policy names all three witnesses and takes the server's k; it is kept in the
  // ledger, so the app made again later finds it.
  const witnessed = await fetch(`${server.url}/v1/logs/audit/witnessing`, {
    method: 'PUT', body: JSON.stringify({ witnessing: {}, reason: '2 of 3' }),
    headers: { ...bearer(await mint.token({ scope: 'log:admin' })), 'Content-Type': 'application/json' },
  })
  expect(witnessed.status).toBe(200)
})

afterAll(async () => {
  await appWitnessing(app)?.close()
  await server?.close()
  await Promise.all(witnesses.map((w) => w?.close()))
  await auth?.close()
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

/** Appends `n` events over HTTP; resolves with the size the last append's checkpoint has. */
async function append(n: number): Promise<number> {
  const token = await mint.token({ scope: 'log:append:audit' })
  let size = 0
  for (let i = 0; i < n; i++) {
    const response = await fetch(`${server.url}/v1/logs/audit/entries`, {
      method: 'POST', body: JSON.stringify({ n: i }), headers: { ...bearer(token), 'Content-Type': 'application/json' },
    })
    expect(response.status).toBe(201)
    size = ((await response.json()) as { checkpoint: { size: number } }).checkpoint.size
  }
  return size
}

interface Fetched { status: number; policy: string | null; text: string; size?: number; cosignatures: Cosignature[] }

async function getCheckpoint(query = '', via: (path: string) => Promise<Response> = (path) => fetch(`${server.url}${path}`)): Promise<Fetched> {
  const response = await via(`/v1/logs/audit/checkpoint${query}`)
  const text = await response.text()
  if (response.status !== 200) return { status: response.status, policy: null, text, cosignatures: [] }
  const checkpoint = openCheckpoint(text, [parseVerifierKey(logKey)])
  const cosignatures = verifyCosignatures(checkpoint, started.map((w) => parseVerifierKey(w.verifierKey)))
  return { status: 200, policy: response.headers.get('annal-policy'), text, size: checkpoint.size, cosignatures }
}

/** Polls until `done` holds (every 50 ms, up to 5 s); fails with the last value otherwise. */
async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`condition not met within 5 s: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('a log witnessed by three witnesses, 2 of 3', () => {
  let lastMet = 0

  it('reports the policy unmet before any checkpoint is cosigned', async () => {
    const fetched = await getCheckpoint()
    expect(fetched.status).toBe(503)
    expect(JSON.parse(fetched.text)).toMatchObject({ code: 'POLICY_UNMET', status: 503, policy: { k: 2, n: 3 }, latest_size: 0 })
    const latest = await getCheckpoint('?latest=1')
    expect(latest).toMatchObject({ status: 200, size: 0, policy: 'unmet' })
    expect((await getCheckpoint('?latest=yes')).status).toBe(400)
  })

  it('serves a checkpoint with at least two valid cosignatures after appends', async () => {
    const size = await append(3)
    const fetched = await until(() => getCheckpoint(), (f) => f.status === 200 && f.size === size && f.cosignatures.length >= 2)
    expect(fetched.policy).toBe('met')
    expect(new Set(fetched.cosignatures.map((c) => c.name)).size).toBe(fetched.cosignatures.length)
    // A tampered cosignature line is caught by the verifier: the test can fail.
    const line = fetched.text.trimEnd().split('\n').at(-1)!
    const [dash, name, base64] = line.split(' ') as [string, string, string]
    const bytes = Buffer.from(base64, 'base64')
    bytes[40]! ^= 1
    const flipped = fetched.text.replace(line, `${dash} ${name} ${bytes.toString('base64')}`)
    expect(() => verifyCosignatures(openCheckpoint(flipped, [parseVerifierKey(logKey)]),
      started.map((w) => parseVerifierKey(w.verifierKey)))).toThrow(expect.objectContaining({ code: 'SIGNATURE_INVALID' }))
    lastMet = size
  })

  it('keeps appending and meeting the policy with one witness down', async () => {
    await stopWitness(0)
    const size = await append(2)
    expect(size).toBeGreaterThan(lastMet)
    const fetched = await until(() => getCheckpoint(), (f) => f.status === 200 && f.size === size && f.cosignatures.length >= 2)
    expect(fetched.cosignatures.map((c) => c.name).sort()).toEqual(['w1.cosign.test', 'w2.cosign.test'])
    const status = appWitnessing(app)!.status().find((s) => s.witness === 'w0.cosign.test')!
    expect(status.failures).toBeGreaterThan(0)
    lastMet = size
  })

  it('with two witnesses down, appends go on, the last policy-meeting checkpoint is served and ?latest=1 has the newest', async () => {
    await stopWitness(1)
    const size = await append(2)
    // w2 still cosigns the newest checkpoint; one cosignature is not enough.
    const latest = await until(() => getCheckpoint('?latest=1'), (f) => f.status === 200 && f.size === size && f.cosignatures.length === 1)
    expect(latest.policy).toBe('unmet')
    const served = await getCheckpoint()
    expect(served).toMatchObject({ status: 200, size: lastMet, policy: 'unmet-for-latest' })
    expect(served.cosignatures.length).toBeGreaterThanOrEqual(2)
  })

  it('a restarted cosigner that forgot the witnesses\' sizes recovers through 409', async () => {
    await appWitnessing(app)!.close()
    await startWitness(0)
    await startWitness(1)
    const size = await append(1)
    const second = await makeApp()
    try {
      const request = (path: string) => Promise.resolve(second.request(path))
      const fetched = await until(() => getCheckpoint('', request), (f) => f.status === 200 && f.size === size && f.cosignatures.length === 3)
      expect(fetched.policy).toBe('met')
      const status = appWitnessing(second)!.status()
      expect(status.map((s) => s.witness).sort()).toEqual(['w0.cosign.test', 'w1.cosign.test', 'w2.cosign.test'])
      for (const s of status) {
        expect(s.resubmits).toBeGreaterThanOrEqual(1)
        expect(s).toMatchObject({ witnessedSize: size, cosignedSize: size, failures: 0 })
      }
    } finally {
      await appWitnessing(second)!.close()
    }
  })
})

describe('a witness that never answers', () => {
  it('holds no append: appends complete while its add-checkpoint request is still open', async () => {
    const received: IncomingMessage[] = []
    const hanging = createServer((request) => { received.push(request) }) // accepts, never answers
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve))
    const dir = await mkdtemp(join(tmpdir(), 'annal-cosign-hanging-'))
    const local = await Ledger.open(dir, { originPrefix: 'annal.cosign.test' })
    await local.createLog('audit')
    const keys = generateKeyPair('hanging.cosign.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`
    const hangingApp = await createApp({
      ledger: local, auth: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: auth.jwksUrl },
      witnesses: [{ name: 'hanging.cosign.test', url, verifierKey: keys.verifierKey }], policy: { k: 1 },
      // Far beyond this test: the request stays open for all of it.
      witnessing: { ...FAST, timeoutMs: 600_000 },
    })
    const served = await serve(hangingApp)
    try {
      const witnessed = await fetch(`${served.url}/v1/logs/audit/witnessing`, {
        method: 'PUT', body: JSON.stringify({ witnessing: {}, reason: 'test' }),
        headers: { ...bearer(await mint.token({ scope: 'log:admin' })), 'Content-Type': 'application/json' },
      })
      expect(witnessed.status).toBe(200)
      const token = await mint.token({ scope: 'log:append:audit' })
      const appendOne = async (i: number) => (await fetch(`${served.url}/v1/logs/audit/entries`, {
        method: 'POST', body: JSON.stringify({ n: i }), headers: { ...bearer(token), 'Content-Type': 'application/json' },
      })).status
      expect(await appendOne(0)).toBe(201)
      await until(async () => received.length, (count) => count > 0)
      for (let i = 1; i <= 5; i++) expect(await appendOne(i)).toBe(201)
      expect(local.log('audit').size).toBe(6)
      // Still the one request, unanswered and open.
      expect(received.map((request) => [request.url, request.complete, request.destroyed])).toEqual([['/add-checkpoint', true, false]])
    } finally {
      await appWitnessing(hangingApp)?.close()
      await served.close()
      hanging.closeAllConnections()
      await new Promise((resolve) => hanging.close(resolve))
      await local.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

// Witnessing against misbehaving witnesses on loopback (a real Ledger on LevelDB, real keys):
// refusals in both spec conventions, timeouts with backoff, and answers that do not verify.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type CosignatureSigner, SIGNATURE_TYPE_COSIGNATURE_V1, cosignCheckpoint, formatAddCheckpoint, formatSignatureLine, generateKeyPair,
  openCheckpoint, parseAddCheckpoint, parseSignerKey, parseVerifierKey,
} from '@annal/note'
import { Ledger } from '@annal/store'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { appWitnessing, createApp } from './app.js'
import { Witnessing, type WitnessStatus } from './witnessing.js'
import type { WitnessConfig } from './witness-config.js'
import type { WitnessAlert } from './witness-health.js'
import { type RunningServer, serve } from './serve.js'

const utf8 = new TextEncoder()

let directory: string
let ledger: Ledger
let servers: RunningServer[]
let witnessing: Witnessing | undefined
let release: () => void
let released: Promise<void>

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-witnessing-'))
  ledger = await Ledger.open(directory, { originPrefix: 'witnessing.test' })
  await ledger.createLog('audit')
  servers = []
  released = new Promise((resolve) => { release = resolve })
})

afterEach(async () => {
  release()
  await witnessing?.close()
  witnessing = undefined
  await Promise.all(servers.map((server) => server.close()))
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

/** A fake witness whose add-checkpoint answers with `answer`; keeps the requests' bodies and arrival times. */
async function fakeWitness(name: string, answer: (body: string) => Response | Promise<Response>):
    Promise<{ config: WitnessConfig; bodies: string[]; arrivals: number[] }> {
  const bodies: string[] = []
  const arrivals: number[] = []
  const app = new Hono()
  app.post('/add-checkpoint', async (c) => {
    const body = await c.req.text()
    // Date.now(), as Witnessing's retry times are.
    arrivals.push(Date.now())
    bodies.push(body)
    return answer(body)
  })
  const server = await serve(app, { closeGraceMs: 100 })
  servers.push(server)
  const { verifierKey } = generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
  return { config: { name, url: server.url, verifierKey }, bodies, arrivals }
}

function start(witnesses: WitnessConfig[], k = 1): Witnessing {
  const policy = { witnesses: witnesses.map((w) => w.name), k }
  witnessing = new Witnessing({
    ledger, witnesses, policyOf: (log) => (log === 'audit' ? policy : undefined), pollIntervalMs: 10, timeoutMs: 200, backoffMs: 50,
    maxBackoffMs: 200,
  })
  witnessing.start()
  return witnessing
}

type Statuses = Record<string, WitnessStatus>

/** Polls `running`'s status every 10 ms until `done` holds for it; throws after 10 s. */
async function until(running: Witnessing, done: (status: Statuses) => boolean): Promise<Statuses> {
  for (const started = Date.now(); ;) {
    const status = Object.fromEntries(running.status().map((s) => [s.witness, s]))
    if (done(status)) return status
    if (Date.now() - started > 25_000) throw new Error(`not within 25 s: ${JSON.stringify(status)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('Witnessing', () => {
  it('treats a bare 409 (v1.0.0) and 422 (current) as refusals, times out a silent witness, and backs off', async () => {
    const bare409 = await fakeWitness('bare409.test', () => new Response('conflict', { status: 409 }))
    const refused = await fakeWitness('refused.test', () => new Response('{}', { status: 422, headers: { 'Content-Type': 'application/problem+json' } }))
    const slow = await fakeWitness('slow.test', async () => {
      await released
      return new Response('', { status: 500 })
    })
    const running = start([bare409.config, refused.config, slow.config], 2)
    const log = ledger.log('audit')
    for (let i = 0; i < 5; i++) await log.append([utf8.encode(`e${i}`)])
    const status = await until(running, () => bare409.bodies.length >= 3 && refused.bodies.length >= 3
      && running.status().some((s) => s.witness === 'slow.test' && s.lastError !== undefined))
    expect(status['bare409.test']).toMatchObject({ lastError: 'witness answered 409', resubmits: 0, cosignedSize: undefined })
    expect(status['refused.test']).toMatchObject({ lastError: 'witness answered 422', cosignedSize: undefined })
    expect(status['slow.test']).toMatchObject({ lastError: 'timed out' })
    // Polled every 10 ms, a refusing witness is asked again only after the backoff, doubled
    // each time (50 ms, then 100 ms): lower bounds, which a busy machine only widens.
    for (const fake of [bare409, refused]) {
      const [first, second, third] = fake.arrivals as [number, number, number]
      expect(second - first).toBeGreaterThanOrEqual(50)
      expect(third - second).toBeGreaterThanOrEqual(100)
    }
    expect(refused.bodies[0]).toMatch(/^old 0\n\n/)
    await expect(running.served(log, false)).rejects.toMatchObject({ code: 'POLICY_UNMET' })
    expect(await log.cosignatures(log.size)).toEqual([])
  })

  it('keeps nothing from a 200 whose cosignature does not verify or is by another key', async () => {
    let keyId = 0
    const forged = () => {
      const bytes = Buffer.alloc(76, 7)
      bytes.writeUInt32BE(keyId, 0)
      return new Response(`\u2014 liar.test ${bytes.toString('base64')}\n`)
    }
    const liar = await fakeWitness('liar.test', forged)
    keyId = parseVerifierKey(liar.config.verifierKey).keyId
    const stranger = await fakeWitness('stranger.test', () => new Response(`\u2014 other.test ${Buffer.alloc(76, 7).toString('base64')}\n`))
    const flood = await fakeWitness('flood.test', () => new Response('x'.repeat(65 * 1024)))
    const running = start([liar.config, stranger.config, flood.config])
    const log = ledger.log('audit')
    await log.append([utf8.encode('x')])
    const status = await until(running, (s) => Object.values(s).filter((w) => w.lastError !== undefined).length === 3)
    expect(liar.bodies.length).toBeGreaterThan(0)
    expect(status['liar.test']).toMatchObject({ lastError: 'the witness answered an invalid cosignature', cosignedSize: undefined })
    expect(status['stranger.test']).toMatchObject({ lastError: 'no cosignature from the witness key', cosignedSize: undefined })
    expect(status['flood.test']).toMatchObject({ lastError: 'the witness answer is unreadable: bodies are limited to 65536 bytes', cosignedSize: undefined })
    expect(await log.cosignatures(1)).toEqual([])
  })

  it('follows a 409 size below ours with a proof from it, and refuses one above ours', async () => {
    const log = ledger.log('audit')
    for (let i = 0; i < 7; i++) await log.append([utf8.encode(`e${i}`)])
    const ahead = await fakeWitness('ahead.test', () => new Response('100\n', { status: 409, headers: { 'Content-Type': 'text/x.tlog.size' } }))
    const behind = await fakeWitness('behind.test', (body) => body.startsWith('old 3\n')
      ? new Response('{}', { status: 422 })
      : new Response('3\n', { status: 409, headers: { 'Content-Type': 'text/x.tlog.size' } }))
    const running = start([ahead.config, behind.config])
    const status = await until(running, (s) => [s['ahead.test'], s['behind.test']].every((w) => w?.lastError !== undefined))
    expect(status['ahead.test']).toMatchObject({ lastError: 'the witness holds size 100, above ours' })
    expect(status['behind.test']).toMatchObject({ resubmits: 1, witnessedSize: 3, lastError: 'witness answered 422' })
    const resubmitted = behind.bodies.find((body) => body.startsWith('old 3\n'))!
    expect(resubmitted).toBe(formatAddCheckpoint(3, await log.consistencyProof(3, 7), await log.checkpoint(7)))
  })

  it('alerts once when a witness has failed past the threshold, and once when it cosigns again', async () => {
    const keys = generateKeyPair('flaky.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    const signer = parseSignerKey(keys.signerKey) as CosignatureSigner
    const logKey = parseVerifierKey(ledger.log('audit').info.verifierKey)
    let up = false
    const app = new Hono()
    app.post('/add-checkpoint', async (c) => {
      if (!up) return c.text('down', 503)
      const checkpoint = openCheckpoint(parseAddCheckpoint(await c.req.text()).note, [logKey])
      return c.text(formatSignatureLine(cosignCheckpoint(checkpoint, signer)))
    })
    const server = await serve(app, { closeGraceMs: 100 })
    servers.push(server)
    const alerts: WitnessAlert[] = []
    const policy = { witnesses: ['flaky.test'], k: 1 }
    witnessing = new Witnessing({
      ledger, witnesses: [{ name: 'flaky.test', url: server.url, verifierKey: keys.verifierKey }], policyOf: () => policy,
      pollIntervalMs: 10, timeoutMs: 2_000, backoffMs: 10, maxBackoffMs: 20, alertAfterMs: 50, onAlert: (alert) => alerts.push(alert),
    })
    witnessing.start()
    await ledger.log('audit').append([utf8.encode('x')])
    let status = await until(witnessing, () => alerts.length > 0)
    const failuresWhenAlerted = status['flaky.test']!.failures
    expect(alerts).toEqual([{ kind: 'failing', witness: 'flaky.test', log: 'audit', since: status['flaky.test']!.failingSince,
      lastError: 'witness answered 503', cosignedSize: undefined }])
    // Further failures past the threshold say nothing more.
    status = await until(witnessing, (s) => s['flaky.test']!.failures >= failuresWhenAlerted + 3)
    expect(alerts).toHaveLength(1)
    up = true
    // The cosignature is kept before the success is counted (in between, status() shows both the
    // new size and the old failures): wait for the success.
    status = await until(witnessing, (s) => s['flaky.test']!.cosignedSize === 1 && s['flaky.test']!.successes > 0)
    expect(status['flaky.test']).toMatchObject({ failures: 0, failingSince: undefined, lastError: 'witness answered 503' })
    expect(alerts.map((alert) => alert.kind)).toEqual(['failing', 'recovered'])
    expect(alerts[1]).toMatchObject({ since: alerts[0]!.since, cosignedSize: 1 })
    // The health a GET shows: the last error kept, with its time, and no longer failing.
    const health = await witnessing.health(ledger.log('audit'))
    expect(health).toMatchObject({ k: 1, policyMetSize: 1, witnesses: [{ name: 'flaky.test', configured: true, cosignedSize: 1,
      failures: 0, lastError: 'witness answered 503', lastErrorAt: expect.any(Date), failingSince: undefined }] })
  })

  it('is configured through createApp and refuses bad configuration', async () => {
    const w = generateKeyPair('w.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    const auth = { issuer: 'https://issuer.test', audience: 'https://annal.test/', jwks: { keys: [] } }
    const witness = { name: 'w.test', url: 'http://127.0.0.1:9', verifierKey: w.verifierKey }
    const unpoliced = await createApp({ ledger, auth, witnesses: [witness] })
    await appWitnessing(unpoliced)!.close()
    await expect(createApp({ ledger, auth, witnesses: [witness], policy: { k: 2 } })).rejects.toThrow(RangeError)
    await expect(createApp({ ledger, auth, policy: { k: 1 } })).rejects.toThrow(RangeError)
    const logKey = generateKeyPair('w.test').verifierKey
    await expect(createApp({ ledger, auth, witnesses: [{ ...witness, verifierKey: logKey }], policy: { k: 1 } })).rejects.toThrow(RangeError)
    await expect(createApp({ ledger, auth, witnesses: [{ ...witness, name: 'x.test' }], policy: { k: 1 } })).rejects.toThrow(RangeError)
    await expect(createApp({ ledger, auth, witnesses: [witness, witness], policy: { k: 1 } })).rejects.toThrow(RangeError)
    await expect(createApp({ ledger, auth, witnesses: [{ ...witness, url: 'ftp://x' }], policy: { k: 1 } })).rejects.toThrow(TypeError)
  })
})

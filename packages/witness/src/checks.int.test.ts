// Background consistency checks against a log's tiles: a Witness over a real LevelDB in a temp
// directory, tiles served over real HTTP on 127.0.0.1 from a MemoryTree, real Ed25519 keys.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { LevelDriver } from '@annal/storage'
import type { CheckOptions } from './checks.js'
import { decodeEvidence, decodePending, evidenceKey, pendingKey, type Evidence } from './evidence.js'
import { waitFor } from './testing/http.js'
import { TestLog } from './testing/log.js'
import { tileServer, type TileServer, type TileServerMode } from './testing/tiles.js'
import { Witness } from './witness.js'
import { runWitness } from './run.js'

const witnessKeys = generateKeyPair('witness.example/checks', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Setup {
  readonly witness: Witness
  readonly driver: LevelDriver
  readonly alerts: Evidence[]
}

async function setup(log: TestLog, url: string | undefined, checks: CheckOptions = {}): Promise<Setup> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-witness-checks-'))
  cleanups.push(() => rm(directory, { recursive: true, force: true }))
  const driver = await LevelDriver.open(join(directory, 'db'))
  cleanups.push(() => driver.close().catch(() => undefined))
  const alerts: Evidence[] = []
  const witness = new Witness({
    signerKey: witnessKeys.signerKey,
    logs: [{ origin: log.origin, verifierKeys: [log.verifierKey], ...(url === undefined ? {} : { url }) }],
    driver,
    onEvidence: (evidence) => alerts.push(evidence),
    checks: { timeoutMs: 2000, retryMs: 50, ...checks },
  })
  cleanups.push(() => witness.close())
  return { witness, driver, alerts }
}

async function tiles(log: TestLog, mode?: TileServerMode): Promise<TileServer> {
  const server = await tileServer(log.tree, mode)
  cleanups.push(() => server.close())
  return server
}

async function pending(driver: LevelDriver, origin: string): Promise<number[]> {
  const bytes = await driver.get(pendingKey(origin))
  return bytes === undefined ? [] : decodePending(bytes).map((p) => p.size)
}

describe('an honest log', () => {
  it('verifies larger and smaller checkpoints, settles pending ones, and stores no evidence', async () => {
    const log = new TestLog('example.com/checks-honest')
    log.append(700)
    const server = await tiles(log)
    // Retries wait long: a failed check runs again only when the state changes.
    const { witness, driver, alerts } = await setup(log, server.url, { retryMs: 60_000 })
    expect((await witness.addCheckpoint(log.body(0, 300))).status).toBe(200)
    expect(await witness.observe(log.checkpoint(600), 'test')).toBe('pending')
    expect(await witness.observe(log.checkpoint(100), 'test')).toBe('older')
    await waitFor(() => witness.checkStatus()[0]!.verified === 2, 30_000)
    // The pending checkpoint is settled: dropped, and known as verified.
    await waitFor(async () => (await pending(driver, log.origin)).length === 0, 30_000)
    expect(await witness.observe(log.checkpoint(600), 'test')).toBe('verified')
    expect(await witness.observe(log.checkpoint(100), 'test')).toBe('verified')
    // The log skips past a pending size (whose check against 300 failed): 650 is checked
    // again at once, against the new state, 700.
    server.mode.status = 500
    expect(await witness.observe(log.checkpoint(650), 'test')).toBe('pending')
    await waitFor(() => witness.checkStatus()[0]!.failures === 1, 30_000)
    server.mode.status = undefined
    expect((await witness.addCheckpoint(log.body(300, 700))).status).toBe(200)
    await waitFor(() => witness.checkStatus()[0]!.verified === 3 && witness.checkStatus()[0]!.queued === 0, 30_000)
    expect(await witness.observe(log.checkpoint(650), 'test')).toBe('verified')
    expect(await pending(driver, log.origin)).toEqual([])
    expect(witness.checkStatus()[0]).toMatchObject({ inconsistent: 0, failures: 1 })
    expect(await witness.evidence()).toEqual([])
    expect(alerts).toEqual([])
  })

  it('reads partial tiles when the full tile does not exist yet', async () => {
    const log = new TestLog('example.com/checks-partial')
    log.append(300)
    const server = await tiles(log)
    const { witness } = await setup(log, server.url)
    expect((await witness.addCheckpoint(log.body(0, 100))).status).toBe(200)
    expect(await witness.observe(log.checkpoint(300), 'test')).toBe('pending')
    await waitFor(() => witness.checkStatus()[0]!.verified === 1, 30_000)
    expect(server.requested).toContain('tile/0/001.p/44')
    expect(server.requested).toContain('tile/0/001') // tried first, 404
  })
})

describe('a forked log', () => {
  it('stores inconsistent evidence, alerts, and refuses to cosign, when the log\'s own tiles contradict', async () => {
    const log = new TestLog('example.com/checks-fork')
    log.append(300)
    const fork = log.fork(100)
    fork.append(200)
    const server = await tiles(log)
    const { witness, driver, alerts } = await setup(log, server.url)
    expect((await witness.addCheckpoint(log.body(0, 250))).status).toBe(200)
    // The fork's 150 is older: the log's tiles at 250 give its first 150 leaves another root.
    expect(await witness.observe(fork.checkpoint(150), 'gossip http://peer')).toBe('older')
    await waitFor(async () => (await witness.evidence()).length === 1, 30_000)
    const [evidence] = await witness.evidence()
    expect(evidence).toMatchObject({ kind: 'inconsistent', size: 150, detectedVia: 'gossip http://peer' })
    // The cosigned one carries the witness's cosignature after the log's signature.
    const notes = evidence!.checkpoints.map((c) => c.note)
    expect(notes).toContain(fork.checkpoint(150))
    expect(notes.some((note) => note.startsWith(log.checkpoint(250)))).toBe(true)
    expect(evidence!.tried).toContain(server.url)
    expect(alerts).toEqual([evidence])
    // Stored, and checked again on read.
    expect(decodeEvidence((await driver.get(evidenceKey(log.origin)))!)).toEqual(evidence)
    expect((await witness.addCheckpoint(log.body(250, 300))).status).toBe(403)
    expect(await witness.observe(fork.checkpoint(300), 'test')).toBe('frozen')
  })

  it('still compares a verified checkpoint with a pending one of its size', async () => {
    const log = new TestLog('example.com/checks-twin')
    log.append(600)
    const fork = log.fork(100)
    fork.append(500)
    const server = await tiles(log)
    const { witness, driver } = await setup(log, server.url, { retryMs: 60_000 })
    expect((await witness.addCheckpoint(log.body(0, 300))).status).toBe(200)
    expect(await witness.observe(log.checkpoint(600), 'test')).toBe('pending')
    await waitFor(async () => witness.checkStatus()[0]!.verified === 1 && (await pending(driver, log.origin)).length === 0, 30_000)
    expect(await witness.observe(fork.checkpoint(600), 'gossip http://peer')).toBe('pending')
    expect(await witness.observe(log.checkpoint(600), 'test')).toBe('evidence')
    expect((await witness.evidence())[0]).toMatchObject({ kind: 'same-size-different-roots', size: 600 })
  })

  it('takes no tiles that do not hash to the larger checkpoint as evidence', async () => {
    const log = new TestLog('example.com/checks-foreign')
    log.append(300)
    const fork = log.fork(100)
    fork.append(200)
    // The witness's tiles are the log's tree; the larger checkpoint is the fork's.
    const server = await tiles(log)
    const { witness } = await setup(log, server.url, { maxAttempts: 2 })
    expect((await witness.addCheckpoint(log.body(0, 150))).status).toBe(200)
    expect(await witness.observe(fork.checkpoint(250), 'test')).toBe('pending')
    await waitFor(() => witness.checkStatus()[0]!.failures === 2 && witness.checkStatus()[0]!.queued === 0, 30_000)
    expect(witness.checkStatus()[0]!.lastError).toMatch(/do not hash to the root/)
    expect(await witness.evidence()).toEqual([])
  })
})

describe('a tile server that fails', () => {
  const log = new TestLog('example.com/checks-failing')
  log.append(300)

  it.each([
    ['is down', undefined, /fetch failed|ECONNREFUSED/],
    ['answers 500', { status: 500 }, /answered 500/],
    ['serves tiles of the wrong length', { short: true }, /hashes long/],
  ] as const)('%s: no evidence, failures recorded, retried a bounded number of times', async (_, mode, error) => {
    const url = mode === undefined ? 'http://127.0.0.1:9/log' : (await tiles(log, { ...mode })).url
    // Retries after 0.5 s and 1 s; then the check is given up for 0.5 s * 2^3.
    const { witness, driver } = await setup(log, url, { maxAttempts: 3, retryMs: 500 })
    expect((await witness.addCheckpoint(log.body(0, 100))).status).toBe(200)
    expect(await witness.observe(log.checkpoint(300), 'test')).toBe('pending')
    await waitFor(() => witness.checkStatus()[0]!.queued === 0, 30_000)
    expect(witness.checkStatus()[0]).toMatchObject({ failures: 3, verified: 0, inconsistent: 0 })
    expect(witness.checkStatus()[0]!.lastError).toMatch(error)
    expect(await witness.evidence()).toEqual([])
    expect(await pending(driver, log.origin)).toEqual([300]) // still pending, unverified
    // Given up for now: seeing it again does not start over at once.
    expect(await witness.observe(log.checkpoint(300), 'test')).toBe('known')
    expect(witness.checkStatus()[0]!.queued).toBe(0)
  })

  it('a hanging tile server blocks neither add-checkpoint nor close', async () => {
    const server = await tiles(log, { hang: true })
    const { witness } = await setup(log, server.url, { timeoutMs: 60_000 })
    expect((await witness.addCheckpoint(log.body(0, 100))).status).toBe(200)
    expect(await witness.observe(log.checkpoint(300), 'test')).toBe('pending')
    await waitFor(() => server.requested.length === 1, 30_000)
    // The origin's queue is free while the check waits on the network.
    expect((await witness.addCheckpoint(log.body(100, 200))).status).toBe(200)
    const closed = witness.close().then(() => 'closed')
    const late = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000).unref())
    expect(await Promise.race([closed, late])).toBe('closed')
    expect(witness.checkStatus()[0]).toMatchObject({ failures: 0, verified: 0 })
  })
})

describe('configuration', () => {
  const log = new TestLog('example.com/checks-config')

  it('takes only http(s) URLs without query or fragment, and reports checks only for logs with one', async () => {
    for (const url of ['ftp://x/log', 'http://x/log?a=1', 'http://x/log#f', 'http://x/log?', 'not a url']) {
      await expect(setup(log, url)).rejects.toThrow(RangeError)
    }
    const { witness } = await setup(log, 'https://log.example/v1/logs/audit/')
    expect(witness.checkStatus()).toEqual([{ origin: log.origin, url: 'https://log.example/v1/logs/audit', queued: 0,
      verified: 0, inconsistent: 0, failures: 0, lastError: undefined }])
    expect((await setup(log, undefined)).witness.checkStatus()).toEqual([])
  })

  it('refuses two URLs for one log in runWitness', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-witness-checks-'))
    cleanups.push(() => rm(data, { recursive: true, force: true }))
    const other = generateKeyPair(log.origin)
    await expect(runWitness({ data, name: 'witness.example/config', logs: [
      { verifierKey: log.verifierKey, url: 'http://a/log' }, { verifierKey: other.verifierKey, url: 'http://b/log' }] }))
      .rejects.toThrow(RangeError)
    const running = await runWitness({ data, name: 'witness.example/config',
      logs: [{ verifierKey: log.verifierKey, url: 'http://a/log' }, other.verifierKey] })
    cleanups.push(() => running.close())
    expect(running.checkStatus().map((s) => s.url)).toEqual(['http://a/log'])
  })
})

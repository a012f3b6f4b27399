// Gossip between witnesses as processes would run it: runWitness over temp directories, real
// LevelDB, real HTTP on 127.0.0.1, a real webhook listener, and a log that forks.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Webhook } from './alert.js'
import { sameSizeEvidence } from './evidence.js'
import { originHash } from './state.js'
import { runWitness, type RunWitnessOptions, type RunningWitness } from './run.js'
import { freePort, listenOnLoopback, waitFor, webhookReceiver, type TestServer } from './testing/http.js'
import { TestLog } from './testing/log.js'
import { tileServer } from './testing/tiles.js'

interface EvidenceJson {
  origin: string
  size: number
  kind: string
  checkpoints: { note: string; source: string }[]
  detected_via: string
}

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'annal-witness-gossip-int-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function start(options: RunWitnessOptions): Promise<RunningWitness> {
  const witness = await runWitness(options)
  let closed = false
  const close = witness.close.bind(witness)
  const once = async (): Promise<void> => {
    if (!closed) await close()
    closed = true
  }
  cleanups.push(once)
  return Object.assign(Object.create(witness) as RunningWitness, { close: once })
}

async function server(handler: Parameters<typeof listenOnLoopback>[0]): Promise<TestServer> {
  const s = await listenOnLoopback(handler)
  cleanups.push(() => s.close())
  return s
}

function post(witness: RunningWitness, body: string): Promise<number> {
  return fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body }).then(async (r) => {
    await r.body?.cancel()
    return r.status
  })
}

async function evidenceOf(witness: RunningWitness): Promise<EvidenceJson[]> {
  return ((await (await fetch(`${witness.url}/v1/evidence`)).json()) as { evidence: EvidenceJson[] }).evidence
}

// Fast pulls, but timeouts long enough that a loaded CI machine does not turn slowness into failures.
const FAST = { gossipIntervalMs: 50, gossipTimeoutMs: 2000, webhookTimeoutMs: 2000 } as const

describe('two witnesses and a forking log', () => {
  it('both detect the split view through gossip, store the same evidence, alert, and stop cosigning', async () => {
    const honest = new TestLog('example.com/forking-log')
    honest.append(100)
    const forked = honest.fork(60) // the same origin and key, the first 60 leaves in common
    forked.append(40)
    const webhook = await webhookReceiver()
    cleanups.push(() => webhook.close())
    const [port1, port2] = [await freePort(), await freePort()]
    const common = { logs: [honest.verifierKey], webhook: webhook.url, ...FAST }
    const w1 = await start({ ...common, data: await tempDir(), name: 'witness.example/one', listen: `127.0.0.1:${port1}`,
      peers: [`http://127.0.0.1:${port2}`], admin: '127.0.0.1:0' })
    const w2 = await start({ ...common, data: await tempDir(), name: 'witness.example/two', listen: `127.0.0.1:${port2}`,
      peers: [`http://127.0.0.1:${port1}`] })

    // Both witness the common prefix; then the log shows tree A to one and tree B to the other.
    expect([await post(w1, honest.body(0, 50)), await post(w2, honest.body(0, 50))]).toEqual([200, 200])
    await waitFor(() => w1.gossipStatus()[0]!.pulls >= 2 && w2.gossipStatus()[0]!.pulls >= 2, 20_000)
    expect([await evidenceOf(w1), await evidenceOf(w2)]).toEqual([[], []])
    // Both at once: one after the other, on a loaded machine a 50 ms gossip round could carry w1's
    // tree to w2 first, and w2 would refuse the other tree at the door (a 403 there failed a run).
    expect(await Promise.all([post(w1, honest.body(50, 100)), post(w2, forked.body(50, 100))])).toEqual([200, 200])

    await waitFor(async () => (await evidenceOf(w1)).length > 0 && (await evidenceOf(w2)).length > 0, 20_000)
    const [e1, e2] = [(await evidenceOf(w1))[0]!, (await evidenceOf(w2))[0]!]
    expect(e1).toMatchObject({ origin: honest.origin, size: 100, kind: 'same-size-different-roots' })
    expect(e1.checkpoints.map((c) => c.note)).toEqual(e2.checkpoints.map((c) => c.note))
    expect(e1.checkpoints.map((c) => c.note.split('\n\n')[0])).toContain(honest.checkpoint(100).split('\n\n')[0])
    expect(e1.checkpoints.map((c) => c.note.split('\n\n')[0])).toContain(forked.checkpoint(100).split('\n\n')[0])
    expect([e1.detected_via, e2.detected_via].sort()).toEqual([`gossip http://127.0.0.1:${port1}`, `gossip http://127.0.0.1:${port2}`].sort())

    // One alert from each witness, carrying the same evidence.
    await waitFor(() => webhook.received.length >= 2, 20_000)
    const alerts = webhook.received as { type: string; witness: string; evidence: EvidenceJson }[]
    expect(alerts.map((a) => a.witness).sort()).toEqual(['witness.example/one', 'witness.example/two'])
    expect(alerts.every((a) => a.type === 'annal.witness.split-view/v1' && a.evidence.origin === honest.origin)).toBe(true)
    expect(alerts[0]!.evidence.checkpoints.map((c) => c.note)).toEqual(e1.checkpoints.map((c) => c.note))

    // Both refuse to cosign the origin any further, whichever tree is shown.
    honest.append(20)
    forked.append(20)
    expect([await post(w1, honest.body(100, 120)), await post(w2, forked.body(100, 120))]).toEqual([403, 403])

    // Gossip keeps going and alerts no more; the evidence stays the first one.
    const pulls = w1.gossipStatus()[0]!.pulls
    await waitFor(() => w1.gossipStatus()[0]!.pulls >= pulls + 3, 20_000)
    expect(webhook.received).toHaveLength(2)

    // Clearing while the peer still shows the other tree: gossip finds the split again. With
    // the peer gone (a dead peer blocks nothing), the operator's clear restores cosigning.
    await w2.close()
    const failures = w1.gossipStatus()[0]!.failures
    await waitFor(() => w1.gossipStatus()[0]!.failures > failures, 20_000)
    const cleared = await fetch(`${w1.adminUrl}/v1/evidence/${originHash(honest.origin)}`, { method: 'DELETE' })
    expect(cleared.status).toBe(204)
    expect(await evidenceOf(w1)).toEqual([])
    expect(await post(w1, honest.body(100, 120))).toBe(200)
  })

  it('raises nothing when a peer is honestly ahead, and confirms its checkpoint later', async () => {
    const log = new TestLog('example.com/honest-log')
    log.append(300)
    const webhook = await webhookReceiver()
    cleanups.push(() => webhook.close())
    const [port1, port2] = [await freePort(), await freePort()]
    const common = { logs: [log.verifierKey], webhook: webhook.url, ...FAST }
    const w1 = await start({ ...common, data: await tempDir(), name: 'witness.example/a', listen: `127.0.0.1:${port1}`,
      peers: [`http://127.0.0.1:${port2}`] })
    const w2 = await start({ ...common, data: await tempDir(), name: 'witness.example/b', listen: `127.0.0.1:${port2}`,
      peers: [`http://127.0.0.1:${port1}`] })
    // w1's pulls fail until w2 listens; count failures only from here on.
    const failuresBefore = [w1.gossipStatus()[0]!.failures, w2.gossipStatus()[0]!.failures]
    expect([await post(w1, log.body(0, 100)), await post(w2, log.body(0, 100)), await post(w2, log.body(100, 200))])
      .toEqual([200, 200, 200])
    // Two whole pulls each after the posts: earlier pulls may have run before w2 reached 200.
    const [pulls1, pulls2] = [w1.gossipStatus()[0]!.pulls, w2.gossipStatus()[0]!.pulls]
    await waitFor(() => w1.gossipStatus()[0]!.pulls >= pulls1 + 2 && w2.gossipStatus()[0]!.pulls >= pulls2 + 2, 20_000)
    // w1 holds w2's larger checkpoint as pending; w2 sees w1's as older.
    expect(await w1.witness.observe(log.checkpoint(200), 'test')).toBe('known')
    expect(await w2.witness.observe(log.checkpoint(100), 'test')).toBe('older')
    expect(await post(w1, log.body(100, 200))).toBe(200)
    expect(await post(w1, log.body(200, 300))).toBe(200)
    const pullsAfter = w2.gossipStatus()[0]!.pulls
    await waitFor(() => w2.gossipStatus()[0]!.pulls >= pullsAfter + 2, 20_000)
    expect([await evidenceOf(w1), await evidenceOf(w2)]).toEqual([[], []])
    expect(webhook.received).toEqual([])
    // Nothing failed once both listened (one pull of w1's may have been on its way when w2 started).
    const newFailures = [w1.gossipStatus()[0]!.failures - failuresBefore[0]!, w2.gossipStatus()[0]!.failures - failuresBefore[1]!]
    expect([newFailures[0]! <= 1, newFailures[1]]).toEqual([true, 0])
  })
})

describe('two witnesses, a forking log, and sizes that never coincide', () => {
  it('both find the fork from the log\'s tiles, store inconsistent evidence, alert, and stop cosigning', async () => {
    const logA = new TestLog('example.com/skipping-log')
    logA.append(200)
    const logB = logA.fork(100) // the same origin and key, the first 100 leaves in common
    logB.append(100)
    // Each witness reads the tiles of the tree the log shows it.
    const [tilesA, tilesB] = [await tileServer(logA.tree), await tileServer(logB.tree)]
    cleanups.push(() => tilesA.close(), () => tilesB.close())
    const webhook = await webhookReceiver()
    cleanups.push(() => webhook.close())
    const [portA, portB] = [await freePort(), await freePort()]
    const common = { webhook: webhook.url, ...FAST, checkRetryMs: 100, checkTimeoutMs: 2000 }
    const wA = await start({ ...common, data: await tempDir(), name: 'witness.example/a', listen: `127.0.0.1:${portA}`,
      logs: [{ verifierKey: logA.verifierKey, url: tilesA.url }], peers: [`http://127.0.0.1:${portB}`] })
    const wB = await start({ ...common, data: await tempDir(), name: 'witness.example/b', listen: `127.0.0.1:${portB}`,
      logs: [{ verifierKey: logB.verifierKey, url: tilesB.url }], peers: [`http://127.0.0.1:${portA}`] })

    expect([await post(wA, logA.body(0, 150)), await post(wB, logB.body(0, 180))]).toEqual([200, 200])
    // B sees A's 150 as older; B's tiles at 180 give their first 150 leaves another root.
    await waitFor(async () => (await evidenceOf(wB)).length > 0, 30_000)
    // A holds B's 180 as pending; A's tiles at 180 are not B's 180, which shows nothing.
    await waitFor(() => wA.checkStatus()[0]!.failures > 0, 30_000)
    expect(wA.checkStatus()[0]!.lastError).toMatch(/do not hash to the root/)
    expect(await evidenceOf(wA)).toEqual([])
    // The log skips past 180 at A: A's tiles at 200 give their first 180 leaves another root.
    expect(await post(wA, logA.body(150, 200))).toBe(200)
    await waitFor(async () => (await evidenceOf(wA)).length > 0, 30_000)

    const [eA, eB] = [(await evidenceOf(wA))[0]!, (await evidenceOf(wB))[0]!]
    expect(eA).toMatchObject({ origin: logA.origin, kind: 'inconsistent', size: 180, detected_via: `gossip http://127.0.0.1:${portB}` })
    expect(eB).toMatchObject({ origin: logA.origin, kind: 'inconsistent', size: 150, detected_via: `gossip http://127.0.0.1:${portA}` })
    const texts = (e: EvidenceJson) => e.checkpoints.map((c) => c.note.split('\n\n')[0])
    expect(texts(eA)).toEqual(expect.arrayContaining([logA.checkpoint(200), logB.checkpoint(180)].map((n) => n.split('\n\n')[0])))
    expect(texts(eB)).toEqual(expect.arrayContaining([logA.checkpoint(150), logB.checkpoint(180)].map((n) => n.split('\n\n')[0])))

    await waitFor(() => webhook.received.length >= 2, 20_000)
    const alerts = webhook.received as { witness: string; evidence: EvidenceJson }[]
    expect(alerts.map((a) => [a.witness, a.evidence.kind]).sort()).toEqual([
      ['witness.example/a', 'inconsistent'], ['witness.example/b', 'inconsistent']])

    logA.append(20)
    logB.append(20)
    expect([await post(wA, logA.body(200, 220)), await post(wB, logB.body(180, 220))]).toEqual([403, 403])
  })
})

describe('evidence and gossip input', () => {
  it('keeps evidence across a restart, still refusing to cosign', async () => {
    const log = new TestLog('example.com/restart-log')
    log.append(20)
    const fork = log.fork(5)
    fork.append(15)
    const data = await tempDir()
    const options = { data, name: 'witness.example/restart', logs: [log.verifierKey] }
    let witness = await start(options)
    expect(await post(witness, log.body(0, 20))).toBe(200)
    const submitted = await fetch(`${witness.url}/v1/gossip`, { method: 'POST', body: fork.checkpoint(20) })
    expect(await submitted.json()).toEqual({ result: 'evidence' })
    const before = await evidenceOf(witness)
    expect(before[0]!.detected_via).toBe('submitted 127.0.0.1')
    await witness.close()
    witness = await start(options)
    expect(await evidenceOf(witness)).toEqual(before)
    log.append(5)
    expect(await post(witness, log.body(20, 25))).toBe(403)
    expect(await witness.witness.clearEvidence(log.origin)).toBe(true)
    expect(await post(witness, log.body(20, 25))).toBe(200)
  })

  it('skips bad notes and bad peers, stores nothing, and a hanging peer blocks nothing', async () => {
    const log = new TestLog('example.com/input-log')
    log.append(50)
    const fork = log.fork(10)
    fork.append(40)
    const stranger = new TestLog('example.com/stranger')
    stranger.append(50)
    const impostor = new TestLog(log.origin)
    impostor.append(50)
    const badNotes = ['not a note', `${log.origin}\n50\n\n`, stranger.checkpoint(50), impostor.checkpoint(50),
      fork.checkpoint(50).replace(/.{6}\n$/, 'AAAAA=\n'), 'x'.repeat(20_000)]
    const answers = [
      JSON.stringify({ checkpoints: badNotes }),
      'not json',
      JSON.stringify({ checkpoints: 'x' }),
      JSON.stringify({ checkpoints: [fork.checkpoint(50)], padding: 'x'.repeat(1_100_000) }),
    ]
    let served = 0
    const bad = await server((_, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(answers[served++ % answers.length])
    })
    const hanging = await server(() => undefined) // accepts, never answers
    const witness = await start({ data: await tempDir(), name: 'witness.example/input', logs: [log.verifierKey],
      peers: [bad.url, hanging.url, 'http://127.0.0.1:9'], gossipIntervalMs: 20, gossipTimeoutMs: 200 })
    expect(await post(witness, log.body(0, 50))).toBe(200)
    await waitFor(() => served >= 8, 20_000)
    log.append(10)
    expect(await post(witness, log.body(50, 60))).toBe(200)
    await waitFor(() => witness.gossipStatus().every((peer) => peer.failures >= 2), 20_000)
    const [fromBad, fromHanging, fromNobody] = witness.gossipStatus()
    expect(fromBad!.pulls).toBeGreaterThan(fromBad!.failures) // the list of bad notes parsed; the notes were skipped
    expect(fromHanging!.lastError).toBe('timed out after 200 ms')
    expect(fromNobody!.failures).toBe(fromNobody!.pulls)
    expect(await evidenceOf(witness)).toEqual([])
    expect(await witness.witness.observe(log.checkpoint(60), 'test')).toBe('consistent')
  })
})

describe('a hanging peer', () => {
  it('blocks neither add-checkpoint nor close', async () => {
    const log = new TestLog('example.com/hanging-log')
    log.append(10)
    let requests = 0
    const hanging = await server(() => { requests++ }) // accepts, never answers
    const witness = await start({ data: await tempDir(), name: 'witness.example/hang', logs: [log.verifierKey],
      peers: [hanging.url], gossipIntervalMs: 10, gossipTimeoutMs: 60_000 })
    await waitFor(() => requests === 1, 20_000)
    expect(await post(witness, log.body(0, 10))).toBe(200)
    expect(witness.gossipStatus()[0]!.pulls).toBe(0) // answered while the first pull still waits
    await witness.close()
    // Ended by the close, not by the pull's 60 s deadline.
    const [status] = witness.gossipStatus()
    expect(status).toMatchObject({ pulls: 1, failures: 1 })
    expect(status!.lastError).not.toMatch(/timed out/)
  })
})

describe('the webhook and the admin listener', () => {
  const log = new TestLog('example.com/webhook-log')
  log.append(8)
  const fork = log.fork(2)
  fork.append(6)
  const seenAt = (from: TestLog, source: string) =>
    ({ size: 8, rootHash: from.tree.root(8), note: from.checkpoint(8), source, seen: '2026-11-26T00:00:00.000Z' })
  const evidence = sameSizeEvidence(log.origin, seenAt(log, 'cosigned'), seenAt(fork, 'test'), '2026-11-26T00:00:01.000Z')

  it('gives up on a hanging or failing webhook within its timeout, never throwing', async () => {
    const hanging = await server(() => undefined)
    const failing = await server((_, response) => response.writeHead(500).end())
    const witness = { name: 'witness.example/hook', verifierKey: 'unused' }
    for (const url of [hanging.url, failing.url, 'http://127.0.0.1:9']) {
      const webhook = new Webhook({ url, witness, timeoutMs: 100 })
      webhook.send(evidence)
      // The hanging listener never answers: close() returns only once the alert gave up.
      await webhook.close()
      expect(webhook.counts()).toEqual({ sent: 0, failed: 1 })
    }
    expect(() => new Webhook({ url: 'ftp://x', witness })).toThrow(RangeError)
  })

  it('posts the evidence as JSON', async () => {
    const receiver = await webhookReceiver()
    cleanups.push(() => receiver.close())
    const webhook = new Webhook({ url: receiver.url, witness: { name: 'witness.example/hook', verifierKey: 'vkey' } })
    webhook.send(evidence)
    await webhook.close()
    expect(webhook.counts()).toEqual({ sent: 1, failed: 0 })
    expect(receiver.received).toEqual([{
      type: 'annal.witness.split-view/v1',
      witness: 'witness.example/hook',
      verifier_key: 'vkey',
      evidence: expect.objectContaining({ origin: log.origin, size: 8, detected_via: 'test' }),
    }])
  })

  it('serves the admin routes on loopback only', async () => {
    const data = await tempDir()
    await expect(runWitness({ data, name: 'witness.example/adm', logs: [log.verifierKey], admin: '0.0.0.0:0' }))
      .rejects.toThrow(RangeError)
    const witness = await start({ data, name: 'witness.example/adm', logs: [log.verifierKey], admin: '[::1]:0' })
    expect(witness.adminUrl).toMatch(/^http:\/\/\[::1\]:[0-9]+$/)
    const path = `/v1/evidence/${originHash(log.origin)}`
    expect((await fetch(`${witness.adminUrl}${path}`, { method: 'DELETE' })).status).toBe(404)
    // With evidence held, the route would answer 204 wherever it is served.
    expect(await post(witness, log.body(0, 8))).toBe(200)
    expect(await witness.witness.observe(fork.checkpoint(8), 'test')).toBe('evidence')
    const onPublic = await fetch(`${witness.url}${path}`, { method: 'DELETE' })
    expect([onPublic.status, ((await onPublic.json()) as { code: string }).code]).toEqual([404, 'ROUTE_NOT_FOUND'])
    expect(await evidenceOf(witness)).toHaveLength(1)
    expect((await fetch(`${witness.adminUrl}${path}`, { method: 'DELETE' })).status).toBe(204)
    expect(await evidenceOf(witness)).toEqual([])
  })
})

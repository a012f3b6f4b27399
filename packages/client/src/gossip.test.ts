import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeBase64, parseSignerKey, signCheckpoint } from '@annal/note'
import { runWitness, type RunningWitness } from '@annal/witness'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { liveHarness, type LiveHarness } from '../../server/src/testing/fixture.js'
import { freePort, waitFor } from '../../witness/src/testing/http.js'
import type { GossipOutcome } from './gossip.js'
import { MemoryStateStore } from './monitor-state.js'
import { Monitor } from './monitor.js'
import { parsePolicy, type Policy } from './policy.js'
import { SplitViewError, verifyEvidence } from './split-view.js'
import { expectRejection } from './testing/expect.js'

const events = (from: number, count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => new TextEncoder().encode(`{"g":${from + i}}`))

let live: LiveHarness
let token: string
let witnessDir: string
let witness: RunningWitness
let policy: Policy
const LOG = 'gossiped'

beforeAll(async () => {
  live = await liveHarness()
  token = await live.mint.token({ scope: 'log:read', expiresIn: 3600 })
  const info = await live.ledger.createLog(LOG)
  policy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
  witnessDir = await mkdtemp(join(tmpdir(), 'annal-client-witness-'))
  witness = await runWitness({ data: witnessDir, name: 'witness.example/w1', logs: [info.verifierKey] })
})

afterAll(async () => {
  await witness?.close()
  await live?.close()
  if (witnessDir !== undefined) await rm(witnessDir, { recursive: true, force: true })
})

it('hands each newly trusted checkpoint to the witnesses, a witness down stopping nothing', async () => {
  const down = `http://127.0.0.1:${await freePort()}`
  const outcomes: GossipOutcome[] = []
  const seen: number[] = []
  const store = new MemoryStateStore()
  const monitor = new Monitor(live.url(`/v1/logs/${LOG}`), {
    policy, store, token, witnesses: [`${witness.url}/`, down], onGossip: (outcome) => void outcomes.push(outcome),
    onEntry: (entry) => void seen.push(entry.index),
  })
  await live.ledger.log(LOG).append(events(0, 3))
  await monitor.poll()
  await monitor.poll() // nothing new: nothing handed again
  await live.ledger.log(LOG).append(events(3, 2))
  await monitor.poll()
  expect(seen).toEqual([0, 1, 2, 3, 4])
  expect(outcomes.map(({ witness: url, size, result }) => ({ url, size, result }))).toEqual([
    { url: witness.url, size: 3, result: 'pending' }, { url: down, size: 3, result: undefined },
    { url: witness.url, size: 5, result: 'pending' }, { url: down, size: 5, result: undefined },
  ])
  expect(outcomes.map((outcome) => outcome.error === undefined)).toEqual([true, false, true, false])
  expect(outcomes[1]!.error).toBeInstanceOf(Error)
  expect(await witness.witness.evidence()).toEqual([])
})

it('stops when a witness holds verified evidence that the log forked', async () => {
  const store = new MemoryStateStore()
  const seen: number[] = []
  const monitor = new Monitor(live.url(`/v1/logs/${LOG}`), {
    policy, store, token, witnesses: [witness.url], onEntry: (entry) => void seen.push(entry.index),
  })
  const size = (await monitor.poll()).checkpoint.size
  const saved = await store.load()
  // The log's key signs another tree of the size the witness holds: the witness keeps that.
  const signer = parseSignerKey((await readFile(join(live.ledger.directory, 'keys', `${LOG}.key`), 'utf8')).trim())
  const forged = signCheckpoint({ origin: signer.name, size, rootHash: new Uint8Array(32).fill(7), extensions: [] }, signer)
  const observed = await fetch(`${witness.url}/v1/gossip`, { method: 'POST', body: forged })
  expect(await observed.json()).toEqual({ result: 'evidence' })
  await live.ledger.log(LOG).append(events(size, 2))
  const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError
  expect(error.message).toContain(`witness ${witness.url} holds evidence that the log forked`)
  expect([error.evidence.old, error.evidence.new]).toContain(forged)
  expect(verifyEvidence(error.evidence, policy).old.size).toBe(size)
  // No entry under the checkpoint the witness was shown is handed, and the state stays.
  expect(seen).toEqual(Array.from({ length: size }, (_, i) => i))
  expect(await store.load()).toEqual(saved)
})

it('stops on a witness\'s evidence from the log\'s tiles, taking its root at the smaller size', async () => {
  const name = 'gossip-tiles'
  const info = await live.ledger.createLog(name)
  const logPolicy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
  const url = live.url(`/v1/logs/${name}`)
  await live.ledger.log(name).append(events(0, 10))
  const dir = await mkdtemp(join(tmpdir(), 'annal-client-witness-tiles-'))
  const checking = await runWitness({
    data: dir, name: 'witness.example/w2', logs: [{ verifierKey: info.verifierKey, url }], checkRetryMs: 50,
  })
  try {
    const note = await live.ledger.log(name).checkpoint()
    const cosigned = await fetch(`${checking.url}/add-checkpoint`, { method: 'POST', body: `old 0\n\n${note}` })
    expect(cosigned.status).toBe(200)
    // The log's key signs a tree of 4 leaves (a power of two) that the log's tiles at 10 contradict.
    const signer = parseSignerKey((await readFile(join(live.ledger.directory, 'keys', `${name}.key`), 'utf8')).trim())
    const forged = signCheckpoint({ origin: signer.name, size: 4, rootHash: new Uint8Array(32).fill(7), extensions: [] }, signer)
    const observed = await fetch(`${checking.url}/v1/gossip`, { method: 'POST', body: forged })
    expect(await observed.json()).toEqual({ result: 'older' })
    await waitFor(async () => (await checking.witness.evidence()).length === 1, 30_000)
    const monitor = new Monitor(url, {
      policy: logPolicy, store: new MemoryStateStore(), token, witnesses: [checking.url], onEntry: () => undefined,
    })
    const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError
    expect(error.evidence.old).toBe(forged)
    const [held] = await checking.witness.evidence()
    expect(error.evidence.oldSizeRoot).toBe(encodeBase64(held!.consistency!.rootHash))
    expect(verifyEvidence(error.evidence, logPolicy).new.size).toBe(10)
  } finally {
    await checking.close()
    await rm(dir, { recursive: true, force: true })
  }
})

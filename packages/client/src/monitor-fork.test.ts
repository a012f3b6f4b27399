import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeBase64, encodeBase64 } from '@annal/note'
import { Ledger } from '@annal/store'
import { verifyConsistency } from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../server/src/app.js'
import { ISSUER, jwksOf, liveHarness, type LiveHarness } from '../../server/src/testing/fixture.js'
import { verifyCheckpoint } from './checkpoint.js'
import type { Fetch } from './log-client.js'
import { MemoryStateStore, type MonitorStateStore } from './monitor-state.js'
import { Monitor } from './monitor.js'
import { readEvidence, writeEvidence } from './node/evidence.js'
import { FileStateStore } from './node/file-state.js'
import { parsePolicy, type Policy } from './policy.js'
import { SplitViewError, formatEvidence, verifyEvidence } from './split-view.js'
import { expectRejection } from './testing/expect.js'

const events = (from: number, count: number, tag = 'a'): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => new TextEncoder().encode(`{"${tag}":${from + i}}`))

let live: LiveHarness
let token: string

beforeAll(async () => {
  live = await liveHarness()
  token = await live.mint.token({ scope: 'log:read', expiresIn: 3600 })
})

afterAll(async () => {
  await live?.close()
})

type LogOf = ReturnType<Ledger['log']>

/** A log of the live server, and a second ledger whose app shows the monitor a fork of it. */
interface Forked {
  readonly policy: Policy
  readonly url: string
  readonly ours: LogOf
  readonly theirs: LogOf
  /** The log as the fork's server answers it: checkpoints, proofs and hash tiles of the other tree. */
  readonly view: Fetch
  close(): Promise<void>
}

/** Log `name` on the live server and, in a temp dir, a ledger signing it with the same key: same origin, another tree. */
async function forkOf(name: string): Promise<Forked> {
  const info = await live.ledger.createLog(name)
  const dir = await mkdtemp(join(tmpdir(), 'annal-fork-'))
  const created = await Ledger.open(dir, { originPrefix: 'annal.test' })
  await created.createLog(name)
  await created.close()
  await copyFile(join(live.ledger.directory, 'keys', `${name}.key`), join(dir, 'keys', `${name}.key`))
  const fork = await Ledger.open(dir, { originPrefix: 'annal.test' })
  // It trusts the live server's tokens, as one server showing two trees would.
  const app = await createApp({ ledger: fork, auth: { issuer: ISSUER, audience: live.audience, jwks: jwksOf(...live.keys) } })
  return {
    policy: parsePolicy(`log ${info.verifierKey}\nquorum none\n`),
    url: live.url(`/v1/logs/${name}`),
    ours: live.ledger.log(name),
    theirs: fork.log(name),
    view: async (input, init) => app.request(new URL(input).pathname + new URL(input).search, init),
    close: async () => {
      await fork.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** `fetcher` with the last hash of every consistency proof altered. */
function alteringProofs(fetcher: Fetch): Fetch {
  return async (input, init) => {
    const response = await fetcher(input, init)
    if (!input.includes('/proof/consistency')) return response
    const body = await response.json() as { from: number; to: number; proof: string[] }
    body.proof[body.proof.length - 1] = body.proof.at(-1)!.replace(/^./, (digit) => (digit === '0' ? '1' : '0'))
    return Response.json(body)
  }
}

/** `fetcher` with the first byte of every hash tile altered: the hash of leaf 0 (at level 0), under every root. */
function alteringTiles(fetcher: Fetch): Fetch {
  return async (input, init) => {
    const response = await fetcher(input, init)
    if (!/\/tile\/\d/.test(input)) return response
    const bytes = new Uint8Array(await response.arrayBuffer())
    bytes[0]! ^= 1
    return new Response(bytes, { status: response.status, headers: response.headers })
  }
}

/** A monitor of `forked` that trusts its live checkpoint; the store, as it was saved. */
async function trusting(forked: Forked, store: MonitorStateStore = new MemoryStateStore()) {
  const seen: number[] = []
  await new Monitor(forked.url, { policy: forked.policy, store, token, onEntry: (entry) => void seen.push(entry.index) }).poll()
  return { store, seen, saved: (await store.load())! }
}

/** Checks `error`'s evidence as a third party would, with the log offline. */
function expectEvidence(error: SplitViewError, policy: Policy): void {
  const { evidence } = error
  const { old, new: now } = verifyEvidence(evidence, policy)
  const oldSizeRoot = decodeBase64(evidence.oldSizeRoot)!
  const proof = evidence.proof.map((hash) => decodeBase64(hash)!)
  verifyConsistency(old.size, now.size, proof, oldSizeRoot, now.rootHash)
  expect(oldSizeRoot).not.toEqual(old.rootHash)
  expect(() => verifyConsistency(old.size, now.size, proof, old.rootHash, now.rootHash)).toThrow()
  expect(error.formatEvidence()).toBe(formatEvidence(evidence))
  const hashes = [evidence.oldSizeRoot, ...evidence.proof].map((hash) => `\t${hash}\n`).join('')
  expect(error.formatEvidence()).toContain(`proof of misbehavior:\n${hashes}`)
}

describe('Monitor against a log whose key signs a fork', () => {
  // 4 and 256 are powers of two: there the proof holds no root of the old size, which the
  // evidence then takes from the fork's hash tiles.
  it.each([4, 256, 5])('stops at trusted size %i with evidence that verifies offline and survives a file', async (size) => {
    const forked = await forkOf(`fork-${size}`)
    const dir = await mkdtemp(join(tmpdir(), 'annal-fork-files-'))
    try {
      await forked.ours.append(events(0, size))
      const { store, seen, saved } = await trusting(forked)
      expect(seen).toEqual(Array.from({ length: size }, (_, i) => i))
      // The fork shares the first 2 entries, then differs.
      await forked.theirs.append([...events(0, 2), ...events(2, size - 2, 'b')])
      const theirRoot = verifyCheckpoint(await forked.theirs.checkpoint(), forked.policy).checkpoint.rootHash
      await forked.ours.append(events(size, 3))
      await forked.theirs.append(events(size, 5, 'b'))
      const monitor = new Monitor(forked.url, {
        policy: forked.policy, store, token, fetch: forked.view, onEntry: (entry) => void seen.push(entry.index),
      })
      const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError
      expect(error).toBeInstanceOf(SplitViewError)
      expect(error.evidence.old).toBe(saved.checkpoint)
      expect(error.evidence.new).toBe(await forked.theirs.checkpoint())
      expect(error.evidence.oldSizeRoot).toBe(encodeBase64(theirRoot))
      expectEvidence(error, forked.policy)
      expect(seen).toHaveLength(size)
      expect(await store.load()).toEqual(saved)
      const file = join(dir, 'split-view.txt')
      await writeEvidence(file, error.evidence)
      expect(await readFile(file, 'utf8')).toBe(error.formatEvidence())
      const read = await readEvidence(file)
      expect(read).toEqual(error.evidence)
      expect(verifyEvidence(read, forked.policy).new.size).toBe(size + 5)
    } finally {
      await rm(dir, { recursive: true, force: true })
      await forked.close()
    }
  })

  it('stops on one size with two roots', async () => {
    const forked = await forkOf('fork-same-size')
    try {
      await forked.ours.append(events(0, 6))
      await forked.theirs.append(events(0, 6, 'b'))
      const { store } = await trusting(forked)
      const monitor = new Monitor(forked.url, { policy: forked.policy, store, token, fetch: forked.view, onEntry: () => undefined })
      const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError
      expect(error.evidence.proof).toEqual([])
      expect(error.evidence.oldSizeRoot).toBe(encodeBase64(verifyCheckpoint(error.evidence.new, forked.policy).checkpoint.rootHash))
      expectEvidence(error, forked.policy)
    } finally {
      await forked.close()
    }
  })

  it('keeps its state in a file, which a fork leaves as it was', async () => {
    const forked = await forkOf('fork-file-state')
    const dir = await mkdtemp(join(tmpdir(), 'annal-fork-state-'))
    try {
      await forked.ours.append(events(0, 8))
      const file = await FileStateStore.open(join(dir, 'monitor.state'))
      const { store, saved } = await trusting(forked, file)
      await forked.theirs.append(events(0, 12, 'b'))
      const monitor = new Monitor(forked.url, { policy: forked.policy, store, token, fetch: forked.view, onEntry: () => undefined })
      expectEvidence(await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError, forked.policy)
      await file.close()
      expect(JSON.parse(await readFile(join(dir, 'monitor.state'), 'utf8'))).toEqual(saved)
    } finally {
      await rm(dir, { recursive: true, force: true })
      await forked.close()
    }
  })

  it('shows nothing when the fork\'s hash tiles or proof were altered on the way', async () => {
    const forked = await forkOf('fork-altered')
    try {
      await forked.ours.append(events(0, 4))
      const { store, saved } = await trusting(forked)
      await forked.theirs.append(events(0, 9, 'b'))
      for (const fetch of [alteringTiles(forked.view), alteringProofs(forked.view)]) {
        const monitor = new Monitor(forked.url, { policy: forked.policy, store, token, fetch, onEntry: () => undefined })
        const error = await expectRejection(monitor.poll(), 'CONSISTENCY_FAILED')
        expect(error).not.toBeInstanceOf(SplitViewError)
      }
      expect(await store.load()).toEqual(saved)
    } finally {
      await forked.close()
    }
  })
})

describe('Monitor of an honest log given answers altered on the way', () => {
  it.each([4, 5])('stops at trusted size %i without calling it a split view, and keeps its state', async (size) => {
    const name = `honest-${size}`
    const info = await live.ledger.createLog(name)
    const policy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
    const url = live.url(`/v1/logs/${name}`)
    await live.ledger.log(name).append(events(0, size))
    const store = new MemoryStateStore()
    await new Monitor(url, { policy, store, token, onEntry: () => undefined }).poll()
    const saved = await store.load()
    await live.ledger.log(name).append(events(size, 3))
    // The proof alone, and the proof with the hash tiles that would give another root at the trusted size.
    for (const fetch of [alteringProofs(globalThis.fetch), alteringTiles(alteringProofs(globalThis.fetch))]) {
      const monitor = new Monitor(url, { policy, store, token, fetch, onEntry: () => undefined })
      const error = await expectRejection(monitor.poll(), 'CONSISTENCY_FAILED')
      expect(error).not.toBeInstanceOf(SplitViewError)
    }
    expect(await store.load()).toEqual(saved)
  })
})

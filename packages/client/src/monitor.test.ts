import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeBase64 } from '@annal/note'
import { Ledger } from '@annal/store'
import { bytesToHex, consistencyProofRoots, verifyConsistency } from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { liveHarness, type LiveHarness } from '../../server/src/testing/fixture.js'
import { verifyCheckpoint } from './checkpoint.js'
import type { Fetch } from './log-client.js'
import { MemoryStateStore } from './monitor-state.js'
import { FileStateStore } from './node/file-state.js'
import { readEvidence, writeEvidence } from './node/evidence.js'
import { Monitor, type MonitorEntry } from './monitor.js'
import { parsePolicy, type Policy } from './policy.js'
import { SplitViewError, formatEvidence, verifyEvidence } from './split-view.js'
import { Child } from './testing/child.js'
import { expectRejection } from './testing/expect.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const events = (from: number, count: number, tag = 'a'): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => utf8(`{"${tag}":${from + i}}`))
const text = (entry: MonitorEntry): string => new TextDecoder().decode(entry.bytes)

let live: LiveHarness
let token: string

beforeAll(async () => {
  live = await liveHarness()
  token = await live.mint.token({ scope: 'log:read', expiresIn: 3600 })
})

afterAll(async () => {
  await live?.close()
})

/** A new log on the live server, its policy and URL. */
async function newLog(name: string): Promise<{ policy: Policy; url: string; append: (entries: Uint8Array[]) => Promise<unknown> }> {
  const info = await live.ledger.createLog(name)
  const policy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
  return { policy, url: live.url(`/v1/logs/${name}`), append: (entries) => live.ledger.log(name).append(entries) }
}

describe('Monitor against a running server', () => {
  it('follows appends across polls and hands every entry once, in order', async () => {
    const log = await newLog('follow')
    const store = new MemoryStateStore()
    const seen: MonitorEntry[] = []
    const monitor = new Monitor(log.url, { policy: log.policy, store, token, onEntry: (entry) => void seen.push(entry) })
    let appended = 0
    // Across full and partial entry bundles, and a poll with nothing new.
    for (const count of [3, 300, 0, 2]) {
      if (count > 0) await log.append(events(appended, count))
      appended += count
      const trusted = await monitor.poll()
      expect(trusted.checkpoint.size).toBe(appended)
      expect(await store.load()).toEqual({ checkpoint: trusted.checkpoint.note, next: appended })
    }
    expect(seen.map((entry) => entry.index)).toEqual(Array.from({ length: appended }, (_, i) => i))
    expect(seen.map(text)).toEqual(events(0, appended).map((bytes) => new TextDecoder().decode(bytes)))
  })

  it('resumes from the saved state after a callback threw, with no gap and no repeat', async () => {
    const log = await newLog('resume')
    await log.append(events(0, 10))
    const store = new MemoryStateStore()
    const seen: number[] = []
    const failing = new Monitor(log.url, {
      policy: log.policy, store, token,
      onEntry: (entry) => {
        if (entry.index === 6) throw new Error('handler down')
        seen.push(entry.index)
      },
    })
    await expect(failing.poll()).rejects.toThrow('handler down')
    expect((await store.load())?.next).toBe(6)
    await log.append(events(10, 4))
    const restarted = new Monitor(log.url, { policy: log.policy, store, token, onEntry: (entry) => void seen.push(entry.index) })
    expect((await restarted.poll()).checkpoint.size).toBe(14)
    expect(seen).toEqual(Array.from({ length: 14 }, (_, i) => i))
  })

  it('refuses entries that do not hash to the checkpoint and keeps its state', async () => {
    const log = await newLog('tampered')
    await log.append(events(0, 4))
    const store = new MemoryStateStore()
    const fetch: Fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init)
      if (!input.includes('/tile/entries/')) return response
      const bytes = new Uint8Array(await response.arrayBuffer())
      bytes[bytes.length - 1]! ^= 1
      return new Response(bytes, { status: response.status, headers: response.headers })
    }
    const seen: MonitorEntry[] = []
    const monitor = new Monitor(log.url, { policy: log.policy, store, token, fetch, onEntry: (entry) => void seen.push(entry) })
    await expectRejection(monitor.poll(), 'INCLUSION_FAILED')
    expect(seen).toEqual([])
    expect(await store.load()).toBeUndefined()
  })
})

describe('Monitor far behind a log of several bundles', () => {
  const BUNDLE = 256
  const size = 3 * BUNDLE + 10

  /** A fetch that counts the entry bundles read, altering bundle `alter` if given. */
  function countingFetch(alter?: number): { fetch: Fetch; bundles: () => number } {
    let bundles = 0
    const fetch: Fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init)
      const bundle = /\/tile\/entries\/(\d+)/.exec(input)
      if (bundle === null) return response
      bundles++
      if (Number(bundle[1]) !== alter) return response
      const bytes = new Uint8Array(await response.arrayBuffer())
      bytes[bytes.length - 1]! ^= 1
      return new Response(bytes, { status: response.status, headers: response.headers })
    }
    return { fetch, bundles: () => bundles }
  }

  it('holds one bundle at a time: none is read before the entries before it are handed', async () => {
    const log = await newLog('behind')
    await log.append(events(0, size))
    const counted = countingFetch()
    let ahead = 0
    let handed = 0
    const monitor = new Monitor(log.url, {
      policy: log.policy, store: new MemoryStateStore(), token, fetch: counted.fetch,
      onEntry: (entry) => {
        // Bundles read beyond the one that holds this entry.
        ahead = Math.max(ahead, counted.bundles() - (Math.floor(entry.index / BUNDLE) + 1))
        handed++
      },
    })
    expect((await monitor.poll()).checkpoint.size).toBe(size)
    expect(handed).toBe(size)
    expect(ahead).toBe(0)
    expect(counted.bundles()).toBe(4)
  })

  it('hands no entry of an altered middle bundle, and keeps the state after the bundle before', async () => {
    const log = await newLog('altered-middle')
    await log.append(events(0, size))
    const store = new MemoryStateStore()
    const seen: number[] = []
    const monitor = new Monitor(log.url, {
      policy: log.policy, store, token, fetch: countingFetch(1).fetch, onEntry: (entry) => void seen.push(entry.index),
    })
    const error = await expectRejection(monitor.poll(), 'INCLUSION_FAILED')
    expect(error.message).toContain(`entries ${BUNDLE} to ${2 * BUNDLE - 1} do not hash to the root of size ${size}`)
    expect(seen).toEqual(Array.from({ length: BUNDLE }, (_, i) => i))
    expect((await store.load())?.next).toBe(BUNDLE)
    // Read as served, the same bundle is proven and the monitor goes on from where it stopped.
    const resumed = new Monitor(log.url, { policy: log.policy, store, token, onEntry: (entry) => void seen.push(entry.index) })
    expect((await resumed.poll()).checkpoint.size).toBe(size)
    expect(seen).toEqual(Array.from({ length: size }, (_, i) => i))
  })
})

describe('Monitor against a log whose key signs a fork', () => {
  let forkDir: string
  let fork: Ledger
  let policy: Policy
  let url: string

  // A second ledger signing log `forked` with the live log's key: same origin, another tree.
  beforeAll(async () => {
    const info = await live.ledger.createLog('forked')
    policy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
    url = live.url('/v1/logs/forked')
    forkDir = await mkdtemp(join(tmpdir(), 'annal-fork-'))
    const created = await Ledger.open(forkDir, { host: 'annal.test' })
    await created.createLog('forked')
    await created.close()
    await copyFile(join(live.ledger.directory, 'keys', 'forked.key'), join(forkDir, 'keys', 'forked.key'))
    fork = await Ledger.open(forkDir, { host: 'annal.test' })
  })

  afterAll(async () => {
    await fork?.close()
    if (forkDir !== undefined) await rm(forkDir, { recursive: true, force: true })
  })

  /** Serves the fork's view (its latest checkpoint and its consistency proofs), the rest from the live server. */
  const forkedCheckpoint: Fetch = async (input, init) => {
    if (input.endsWith('/checkpoint')) return new Response(await fork.log('forked').checkpoint(), { status: 200 })
    const consistency = /\/proof\/consistency\?from=(\d+)&to=(\d+)$/.exec(input)
    if (consistency === null) return globalThis.fetch(input, init)
    const [from, to] = [Number(consistency[1]), Number(consistency[2])]
    const proof = (await fork.log('forked').consistencyProof(from, to)).map(bytesToHex)
    return Response.json({ from, to, proof })
  }

  async function expectSplitView(monitor: Monitor): Promise<SplitViewError> {
    const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW')
    expect(error).toBeInstanceOf(SplitViewError)
    const { evidence } = error as SplitViewError
    const [old, now] = [verifyCheckpoint(evidence.old, policy), verifyCheckpoint(evidence.new, policy)]
    const proof = evidence.proof.map((hash) => decodeBase64(hash)!)
    const { size: m, rootHash: oldRoot } = old.checkpoint
    const { size: n, rootHash: newRoot } = now.checkpoint
    expect(() => verifyConsistency(m, n, proof, oldRoot, newRoot)).toThrow()
    // The proof is made of the new tree's nodes, and they show another old tree.
    if (m < n) expect(consistencyProofRoots(m, n, proof, oldRoot).newRoot).toEqual(newRoot)
    expect((error as SplitViewError).formatEvidence()).toBe(formatEvidence(evidence))
    return error as SplitViewError
  }

  it('stops with both checkpoints and the proof as evidence', async () => {
    await live.ledger.log('forked').append(events(0, 5))
    const store = new MemoryStateStore()
    const seen: number[] = []
    await new Monitor(url, { policy, store, token, onEntry: (entry) => void seen.push(entry.index) }).poll()
    const saved = await store.load()
    await live.ledger.log('forked').append(events(5, 3))
    await fork.log('forked').append(events(0, 8, 'b'))
    const monitor = new Monitor(url, { policy, store, token, fetch: forkedCheckpoint, onEntry: (entry) => void seen.push(entry.index) })
    const error = await expectSplitView(monitor)
    expect(error.evidence.old).toBe(saved!.checkpoint)
    expect(error.evidence.proof.length).toBeGreaterThan(0)
    expect(error.formatEvidence()).toMatch(/^SECURITY ERROR\nThis log has misbehaved.*\n\nold:\n\tannal\.test\/forked\n\t5\n[^]*\nnew:\n\tannal\.test\/forked\n\t8\n[^]*\nproof of misbehavior:\n\t[A-Za-z0-9+/]{43}=\n/)
    expect(seen).toEqual([0, 1, 2, 3, 4])
    expect(await store.load()).toEqual(saved)
  })

  it('stops on one size with two roots', async () => {
    const [ours, theirs] = [live.ledger.log('forked'), fork.log('forked')]
    const size = Math.max(ours.size, theirs.size) + 2
    await ours.append(events(ours.size, size - ours.size))
    await theirs.append(events(theirs.size, size - theirs.size, 'b'))
    const store = new MemoryStateStore()
    await new Monitor(url, { policy, store, token, onEntry: () => undefined }).poll()
    expect((await store.load())?.next).toBe(size)
    const monitor = new Monitor(url, { policy, store, token, fetch: forkedCheckpoint, onEntry: () => undefined })
    const error = await expectSplitView(monitor)
    expect(error.evidence.proof).toEqual([])
    expect(error.formatEvidence()).toContain('proof of misbehavior:\n\t(none: ')
  })

  it('keeps its state in a file and saves the evidence to one, which verifies offline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-fork-files-'))
    try {
      const [ours, theirs] = [live.ledger.log('forked'), fork.log('forked')]
      const store = await FileStateStore.open(join(dir, 'monitor.state'))
      await new Monitor(url, { policy, store, token, onEntry: () => undefined }).poll()
      const saved = await store.load()
      await ours.append(events(ours.size, 3))
      await theirs.append(events(theirs.size, 5, 'b'))
      const monitor = new Monitor(url, { policy, store, token, fetch: forkedCheckpoint, onEntry: () => undefined })
      const error = await expectRejection(monitor.poll(), 'SPLIT_VIEW') as SplitViewError
      await store.close()
      const file = join(dir, 'split-view.txt')
      await writeEvidence(file, error.evidence)
      // The log may go: the file holds both signed notes verbatim and the proof.
      const text = await readFile(file, 'utf8')
      expect(text).toBe(error.formatEvidence())
      const evidence = await readEvidence(file)
      expect(evidence).toEqual(error.evidence)
      expect(evidence.old).toBe(saved!.checkpoint)
      expect(evidence.new).toBe(await theirs.checkpoint())
      const { old, new: now } = verifyEvidence(evidence, policy)
      expect([old.size, now.size]).toEqual([saved!.next, theirs.size])
      const proof = evidence.proof.map((hash) => decodeBase64(hash)!)
      expect(() => verifyConsistency(old.size, now.size, proof, old.rootHash, now.rootHash)).toThrow()
      expect(JSON.parse(await readFile(join(dir, 'monitor.state'), 'utf8'))).toEqual(saved)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('Monitor killed between entries', () => {
  it('resumes from its state file with no gap and no repeat', async () => {
    const log = await newLog('killed')
    const size = 2 * 256 + 40
    const hangAt = 300
    await log.append(events(0, size))
    const dir = await mkdtemp(join(tmpdir(), 'annal-killed-'))
    try {
      const policyFile = join(dir, 'policy.txt')
      await writeFile(policyFile, `log ${live.ledger.log('killed').info.verifierKey}\nquorum none\n`)
      const args = (hang: number): string[] =>
        [log.url, policyFile, token, join(dir, 'monitor.state'), join(dir, 'handled.txt'), String(hang)]
      const first = new Child('./monitor-child.ts', args(hangAt))
      try {
        expect(await first.line((line) => line.startsWith('waiting'))).toBe(`waiting ${hangAt}`)
      } finally {
        first.kill('SIGKILL')
      }
      expect((await first.exited).signal).toBe('SIGKILL')
      const second = new Child('./monitor-child.ts', args(-1))
      expect(await second.line((line) => line === 'done')).toBe('done')
      expect((await second.exited).code).toBe(0)
      const handled = (await readFile(join(dir, 'handled.txt'), 'utf8')).trimEnd().split('\n').map(Number)
      expect(handled).toEqual(Array.from({ length: size }, (_, i) => i))
      expect(JSON.parse(await readFile(join(dir, 'monitor.state'), 'utf8')).next).toBe(size)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('Monitor given a consistency proof altered on the way', () => {
  it('stops without calling it a split view, and keeps its state', async () => {
    const live = await liveHarness()
    try {
      await live.ledger.createLog('audit')
      const verifierKey = live.ledger.log('audit').info.verifierKey
      const policy = parsePolicy(`log ${verifierKey}\nquorum none\n`)
      const token = await live.mint.token({ scope: 'log:read' })
      const url = live.url('/v1/logs/audit')
      await live.ledger.log('audit').append(events(0, 5))
      const store = new MemoryStateStore()
      await new Monitor(url, { policy, store, token, onEntry: () => undefined }).poll()
      const saved = await store.load()
      await live.ledger.log('audit').append(events(5, 3))
      const altered: Fetch = async (input, init) => {
        const response = await globalThis.fetch(input, init)
        if (!input.includes('/proof/consistency')) return response
        const body = await response.json() as { from: number; to: number; proof: string[] }
        body.proof[body.proof.length - 1] = body.proof.at(-1)!.replace(/^./, (digit) => (digit === '0' ? '1' : '0'))
        return Response.json(body)
      }
      const monitor = new Monitor(url, { policy, store, token, fetch: altered, onEntry: () => undefined })
      const error = await expectRejection(monitor.poll(), 'CONSISTENCY_FAILED')
      expect(error).not.toBeInstanceOf(SplitViewError)
      expect(await store.load()).toEqual(saved)
    } finally {
      await live.close()
    }
  })
})

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { liveHarness, type LiveHarness } from '../../server/src/testing/fixture.js'
import type { Fetch } from './log-client.js'
import { MemoryStateStore } from './monitor-state.js'
import { Monitor, type MonitorEntry } from './monitor.js'
import { parsePolicy, type Policy } from './policy.js'
import { Child } from './testing/child.js'
import { expectRejection } from './testing/expect.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const events = (from: number, count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => utf8(`{"a":${from + i}}`))
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

describe('Monitor tokens', () => {
  /** A fetch that records each path read, whether it carried a token, and the answer's status. */
  function recordingFetch(): { fetch: Fetch; reads: { path: string; token: boolean; status: number }[] } {
    const reads: { path: string; token: boolean; status: number }[] = []
    const fetch: Fetch = async (input, init) => {
      const response = await globalThis.fetch(input, init)
      const headers = (init?.headers ?? {}) as Record<string, string>
      reads.push({ path: new URL(input).pathname, token: 'Authorization' in headers, status: response.status })
      return response
    }
    return { fetch, reads }
  }

  it('shows its token with entry bundles only, never with checkpoints, proofs or hash tiles', async () => {
    const log = await newLog('tokens')
    const store = new MemoryStateStore()
    await log.append(events(0, 300))
    await new Monitor(log.url, { policy: log.policy, store, token, onEntry: () => {} }).poll()
    await log.append(events(300, 5))
    const recorded = recordingFetch()
    // From the saved state, the new checkpoint is proven consistent through the hash tiles.
    const next = new Monitor(log.url, { policy: log.policy, store, token, fetch: recorded.fetch, onEntry: () => {} })
    expect((await next.poll()).checkpoint.size).toBe(305)
    const bundles = recorded.reads.filter((read) => read.path.includes('/tile/entries/'))
    const others = recorded.reads.filter((read) => !read.path.includes('/tile/entries/'))
    expect(others.filter((read) => read.path.includes('/tile/')).length).toBeGreaterThan(0)
    expect(bundles.length).toBeGreaterThan(0)
    expect(others.every((read) => !read.token && read.status === 200)).toBe(true)
    expect(bundles.every((read) => read.token && read.status === 200)).toBe(true)
  })

  it('follows the access log, whose every route needs the token, after one refusal', async () => {
    const auditToken = await live.mint.token({ scope: 'audit:read', expiresIn: 3600 })
    const { logs } = await (await globalThis.fetch(live.url('/v1/logs'))).json() as { logs: { name: string; verifier_key: string }[] }
    const policy = parsePolicy(`log ${logs.find((log) => log.name === 'access')!.verifier_key}\nquorum none\n`)
    const store = new MemoryStateStore()
    const recorded = recordingFetch()
    const monitor = new Monitor(live.url('/v1/logs/access'), { policy, store, token: auditToken, fetch: recorded.fetch, onEntry: () => {} })
    const first = await monitor.poll()
    const refusedFirst = recorded.reads.filter((read) => read.status === 401).length
    // Each poll's own requests grow the access log, so the second poll proves consistency.
    const second = await monitor.poll()
    expect(second.checkpoint.size).toBeGreaterThan(first.checkpoint.size)
    expect(refusedFirst).toBe(1)
    expect(recorded.reads.filter((read) => read.status === 401)).toHaveLength(1)
    expect((await store.load())?.next).toBe(second.checkpoint.size)
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

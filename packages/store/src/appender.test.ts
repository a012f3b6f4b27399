import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Appender, type LogAppendSteps } from './appender.js'
import type { StorageDriver } from '@annal/storage'
import { LevelDriver } from '@annal/storage'

// The Appender over a real LevelDriver, with two small logs that keep a count the way a Log
// keeps its head: stage builds on the tip, the write swaps `head:<log>` and puts one row per
// entry, discard forgets the tip. Ledger and crash tests cover the same paths with real Logs;
// here a write can be held and failed, which a Ledger's own driver does not allow.

const utf8 = new TextEncoder()
const text = new TextDecoder()
const count = (n: number) => utf8.encode(String(n))

interface Staged {
  readonly from: number
  readonly calls: readonly (readonly Uint8Array[])[]
}

function counterLog(name: string, events: string[]): LogAppendSteps<null, Staged, string> & { durable: () => number } {
  let durable = 0
  let tip: number | undefined
  return {
    durable: () => durable,
    async prepare() {
      return null
    },
    async waitForRoom() {},
    stage(calls) {
      return { from: tip ?? durable, calls }
    },
    adopt(staged) {
      tip = staged.from + staged.calls.flat().length
      events.push(`${name} staged ${staged.from}->${tip}`)
    },
    writes(staged) {
      const to = staged.from + staged.calls.flat().length
      return {
        swaps: [{ key: utf8.encode(`head:${name}`), expected: staged.from === 0 ? undefined : count(staged.from), next: count(to) }],
        ops: staged.calls.flat().map((entry, i) => ({ type: 'put' as const, key: utf8.encode(`entry:${name}:${staged.from + i}`), value: entry })),
      }
    },
    written(staged) {
      let at = staged.from
      durable = at + staged.calls.flat().length
      if (tip === durable) tip = undefined
      events.push(`${name} wrote ${durable}`)
      return staged.calls.map((call) => `${name}[${at}..${(at += call.length) - 1}]`)
    },
    discard() {
      tip = undefined
      events.push(`${name} discarded`)
    },
  }
}

let directory: string
let driver: LevelDriver
/** Set to make the next compareAndSwapAll wait for it, then fail or go on. */
let gate: Promise<'fail' | 'go'> | undefined
/** Called when a write reaches the gate. */
let atGate: (() => void) | undefined

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-appender-'))
  driver = await LevelDriver.open(join(directory, 'db'))
  gate = undefined
  atGate = undefined
})

afterEach(async () => {
  await driver.close()
  await rm(directory, { recursive: true, force: true })
})

function gated(): StorageDriver {
  return new Proxy(driver, {
    get(target, property) {
      if (property !== 'compareAndSwapAll') return Reflect.get(target, property, target) as unknown
      return async (...args: Parameters<LevelDriver['compareAndSwapAll']>) => {
        const held = gate
        gate = undefined
        if (held !== undefined) atGate?.()
        if (held !== undefined && (await held) === 'fail') throw new Error('disk full')
        return target.compareAndSwapAll(...args)
      }
    },
  })
}

/** Polls `condition` once a turn of the event loop, failing after a deadline. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition did not come true in 10 s')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function stored(key: string): Promise<string | undefined> {
  const value = await driver.get(utf8.encode(key))
  return value === undefined ? undefined : text.decode(value)
}

describe('Appender', () => {
  it('appends a call to several logs in one write and answers each part in order', async () => {
    const events: string[] = []
    const appender = new Appender(gated(), {})
    const a = appender.register('a', counterLog('a', events))
    const b = appender.register('b', counterLog('b', events))
    // One batch: log a comes first in it, while the second call names b first.
    const calls = await Promise.all([
      a.append([utf8.encode('a0')]),
      appender.append([b.part([utf8.encode('b0'), utf8.encode('b1')]), a.part([utf8.encode('a1')])]),
      appender.append([a.part([utf8.encode('a2')])]),
    ])
    expect(calls).toEqual(['a[0..0]', ['b[0..1]', 'a[1..1]'], ['a[2..2]']])
    expect(await Promise.all(['head:a', 'head:b', 'entry:a:2', 'entry:b:1'].map(stored))).toEqual(['3', '2', 'a2', 'b1'])
    await expect(appender.append([a.part([]), a.part([])])).rejects.toThrow(TypeError)
    await expect(appender.append([{ log: 'c', entries: [utf8.encode('x')] }])).rejects.toThrow(/not registered/)
    expect(() => appender.register('a', counterLog('a', events))).toThrow(/already registered/)
  })

  it('rejects every call of a failed write in every log it spans, and restages the next batch on what is durable', async () => {
    const events: string[] = []
    // A batch of one entry: the second call is a full batch, so it is staged while the first is written.
    const appender = new Appender(gated(), { maxBatchSize: 1 })
    const [a, b] = [counterLog('a', events), counterLog('b', events)]
    const [toA, toB] = [appender.register('a', a), appender.register('b', b)]
    let fail!: (outcome: 'fail' | 'go') => void
    gate = new Promise((resolve) => { fail = resolve })
    const held = new Promise<void>((resolve) => { atGate = resolve })
    const first = appender.append([toA.part([utf8.encode('x0')]), toB.part([utf8.encode('x1')])])
    await held
    // Staged on top of the first batch while its write is held.
    const second = appender.append([toA.part([utf8.encode('y0'), utf8.encode('y1')]), toB.part([utf8.encode('y2')])])
    await until(() => events.length === 4)
    expect(events).toEqual(['a staged 0->1', 'b staged 0->1', 'a staged 1->3', 'b staged 1->2'])
    fail('fail')
    await expect(first).rejects.toThrow('disk full')
    // Staged again on the durable (empty) logs, so its swaps match what is stored.
    expect(await second).toEqual(['a[0..1]', 'b[0..0]'])
    expect(events.slice(4)).toEqual(['a discarded', 'b discarded', 'a staged 0->2', 'b staged 0->1', 'a wrote 2', 'b wrote 1'])
    expect([a.durable(), b.durable()]).toEqual([2, 1])
    // Nothing of the failed call was written, in either log.
    expect(await Promise.all(['head:a', 'head:b', 'entry:a:0', 'entry:a:1', 'entry:b:0', 'entry:a:2'].map(stored)))
      .toEqual(['2', '1', 'y0', 'y1', 'y2', undefined])
  })
})

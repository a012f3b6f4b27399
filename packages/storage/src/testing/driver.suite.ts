import { bytesEqual } from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { StorageDriver, WriteOp } from '../driver.js'
import { isStorageError } from '../errors.js'

/** A fresh, empty driver, and how to close it and remove its storage (also after a test closed it). */
export interface DriverUnderTest {
  readonly driver: StorageDriver
  readonly cleanup: () => Promise<void>
}

/**
 * The conformance suite every StorageDriver runs (see driver.ts): point reads, ordered range
 * reads over binary keys, atomic batches and compare-and-swap. `open` gives each test a fresh,
 * empty driver.
 */
export function driverSuite(name: string, open: () => Promise<DriverUnderTest>): void {
  describe(`StorageDriver conformance: ${name}`, () => {
    let current: DriverUnderTest | undefined
    const driver = (): StorageDriver => current!.driver
    beforeEach(async () => {
      current = await open()
    })
    afterEach(async () => {
      await current?.cleanup()
      current = undefined
    })
    pointReadTests(driver)
    rangeTests(driver)
    writeTests(driver)
    compareAndSwapTests(driver)
  })
}

const k = (...bytes: number[]) => Uint8Array.from(bytes)
const v = (text: string) => new TextEncoder().encode(text)
const put = (key: Uint8Array, value: Uint8Array): WriteOp => ({ type: 'put', key, value })
const conflict = (error: unknown) => isStorageError(error, 'SWAP_CONFLICT')

/** Keys in byte order, chosen to catch signed bytes, NUL-terminated keys and prefix ordering. */
const ORDERED_KEYS = [
  k(0x00), k(0x00, 0x00), k(0x00, 0xff), k(0x01), k(0x01, 0x00), k(0x01, 0x00, 0x00), k(0x01, 0x01), k(0x01, 0x7f),
  k(0x01, 0x80), k(0x01, 0xff), k(0x01, 0xff, 0xff), k(0x7f), k(0x80), k(0xfe, 0xff), k(0xff), k(0xff, 0x00), k(0xff, 0xff),
]

async function rows(driver: StorageDriver, options: Parameters<StorageDriver['range']>[0]): Promise<(readonly [Uint8Array, Uint8Array])[]> {
  const out: (readonly [Uint8Array, Uint8Array])[] = []
  for await (const row of driver.range(options)) out.push(row)
  return out
}

/** Writes ORDERED_KEYS in shuffled order, each with its position as value. */
async function writeOrderedKeys(driver: StorageDriver): Promise<void> {
  const positions = ORDERED_KEYS.map((_, i) => i)
  const shuffled = positions.map((i) => positions[(i * 7 + 3) % positions.length]!)
  await driver.write(shuffled.map((i) => put(ORDERED_KEYS[i]!, k(i))), { sync: false })
}

function expectPlain(bytes: Uint8Array | undefined): void {
  expect(bytes).toBeDefined()
  expect(bytes!.constructor).toBe(Uint8Array)
}

function pointReadTests(driver: () => StorageDriver): void {
  it('get: absent keys are undefined, present keys give their bytes as a plain Uint8Array', async () => {
    expect(await driver().get(k(1, 2, 3))).toBeUndefined()
    await driver().write([put(k(1, 2, 3), v('one')), put(k(0), v('zero'))], { sync: true })
    const value = await driver().get(k(1, 2, 3))
    expectPlain(value)
    expect(value).toEqual(v('one'))
    expect(await driver().get(k(1, 2))).toBeUndefined()
    expect(await driver().get(k(1, 2, 3, 0))).toBeUndefined()
  })

  it('getMany: answers in order, undefined where absent, repeats allowed, [] for []', async () => {
    await driver().write([put(k(1), v('a')), put(k(3), v('c'))], { sync: false })
    const values = await driver().getMany([k(3), k(2), k(1), k(3), k(0xff)])
    expect(values).toEqual([v('c'), undefined, v('a'), v('c'), undefined])
    for (const value of [values[0], values[2]]) expectPlain(value)
    expect(await driver().getMany([])).toEqual([])
  })

  it('keeps its own copies: changing written or returned arrays changes nothing stored', async () => {
    const value = v('original')
    await driver().write([put(k(9), value)], { sync: false })
    value[0] = 0
    const read = (await driver().get(k(9)))!
    expect(read).toEqual(v('original'))
    read[0] = 0
    const [again] = await driver().getMany([k(9)])
    expect(again).toEqual(v('original'))
  })

  it('round-trips a large value and every byte value', async () => {
    const large = Uint8Array.from({ length: 2 ** 20 + 1 }, (_, i) => (i * 31 + (i >> 8)) & 0xff)
    await driver().write([put(k(0xab), large)], { sync: true })
    const read = await driver().get(k(0xab))
    expect(read?.length).toBe(large.length)
    expect(bytesEqual(read!, large)).toBe(true)
  })
}

function rangeTests(driver: () => StorageDriver): void {
  it('range: rows in unsigned byte order, shorter prefixes first, 0x00 and 0xff included', async () => {
    await writeOrderedKeys(driver())
    const all = await rows(driver(), { gte: k(0x00), lte: k(0xff, 0xff) })
    expect(all.map(([key]) => key)).toEqual(ORDERED_KEYS)
    expect(all.map(([, value]) => value[0])).toEqual(ORDERED_KEYS.map((_, i) => i))
    for (const [key, value] of all) {
      expectPlain(key)
      expectPlain(value)
    }
  })

  it('range: both bounds are inclusive and nothing outside them is returned', async () => {
    await writeOrderedKeys(driver())
    const inner = await rows(driver(), { gte: k(0x01), lte: k(0x01, 0xff) })
    expect(inner.map(([key]) => key)).toEqual(ORDERED_KEYS.slice(3, 10))
    const exact = await rows(driver(), { gte: k(0x01, 0x7f), lte: k(0x01, 0x7f) })
    expect(exact.map(([key]) => key)).toEqual([k(0x01, 0x7f)])
    const between = await rows(driver(), { gte: k(0x01, 0x00, 0x01), lte: k(0x01, 0x00, 0xff) })
    expect(between).toEqual([])
    expect(await rows(driver(), { gte: k(0x80), lte: k(0x7f) })).toEqual([])
  })

  it('range: keysOnly gives the same keys, each with an empty value', async () => {
    await writeOrderedKeys(driver())
    const keys = await rows(driver(), { gte: k(0x01), lte: k(0xff, 0xff), keysOnly: true })
    expect(keys.map(([key]) => key)).toEqual(ORDERED_KEYS.slice(3))
    expect(keys.every(([, value]) => value.length === 0)).toBe(true)
  })

  it('range: limit caps the rows, from the start or, reversed, from the end', async () => {
    await writeOrderedKeys(driver())
    const bounds = { gte: k(0x00), lte: k(0xff, 0xff) }
    expect((await rows(driver(), { ...bounds, limit: 4 })).map(([key]) => key)).toEqual(ORDERED_KEYS.slice(0, 4))
    const reversed = await rows(driver(), { ...bounds, reverse: true })
    expect(reversed.map(([key]) => key)).toEqual([...ORDERED_KEYS].reverse())
    const lastThree = await rows(driver(), { ...bounds, reverse: true, limit: 3 })
    expect(lastThree.map(([key]) => key)).toEqual(ORDERED_KEYS.slice(-3).reverse())
    expect(await rows(driver(), { ...bounds, limit: 0 })).toEqual([])
    expect(await rows(driver(), { ...bounds, limit: 1000 })).toHaveLength(ORDERED_KEYS.length)
  })

  it('range: stopping early releases the read; the driver keeps working and closes', async () => {
    await writeOrderedKeys(driver())
    for (let i = 0; i < 3; i++) {
      for await (const [key] of driver().range({ gte: k(0x00), lte: k(0xff, 0xff) })) {
        expect(key).toEqual(ORDERED_KEYS[0])
        break
      }
    }
    await driver().write([put(k(0x42), v('after'))], { sync: true })
    expect(await driver().get(k(0x42))).toEqual(v('after'))
    await driver().close()
  })
}

function writeTests(driver: () => StorageDriver): void {
  it('write: puts and dels apply in order; del of an absent key is fine', async () => {
    await driver().write([put(k(1), v('a')), put(k(2), v('b')), put(k(3), v('c'))], { sync: true })
    await driver().write([
      { type: 'del', key: k(2) }, put(k(3), v('c2')), { type: 'del', key: k(9) },
      put(k(4), v('d')), { type: 'del', key: k(4) }, { type: 'del', key: k(5) }, put(k(5), v('e')),
    ], { sync: false })
    expect(await driver().getMany([k(1), k(2), k(3), k(4), k(5)])).toEqual([v('a'), undefined, v('c2'), undefined, v('e')])
    await driver().write([], { sync: true })
  })

  it('write: a batch that fails writes none of its ops', async () => {
    await driver().write([put(k(1), v('before'))], { sync: true })
    const bad = { type: 'put', key: k(3), value: undefined } as unknown as WriteOp
    await expect(driver().write([put(k(1), v('after')), put(k(2), v('new')), bad], { sync: true })).rejects.toThrow()
    expect(await driver().getMany([k(1), k(2), k(3)])).toEqual([v('before'), undefined, undefined])
  })

  it('write: a concurrent reader sees a batch all or nothing', async () => {
    const keys = Array.from({ length: 2000 }, (_, i) => k(0x10, i >> 8, i & 0xff))
    const probe = [keys[0]!, keys[999]!, keys[1999]!]
    let done = false
    const writing = driver().write(keys.map((key) => put(key, v('x'))), { sync: true }).finally(() => {
      done = true
    })
    const seen: number[] = []
    while (!done) {
      const values = await driver().getMany(probe)
      seen.push(values.filter((value) => value !== undefined).length)
    }
    await writing
    expect(seen.every((count) => count === 0 || count === probe.length)).toBe(true)
    expect((await rows(driver(), { gte: keys[0]!, lte: keys[1999]! })).length).toBe(keys.length)
  })
}

function compareAndSwapTests(driver: () => StorageDriver): void {
  it('compareAndSwap: expected undefined creates the key with its ops, once', async () => {
    await driver().compareAndSwap(k(0x48), undefined, v('h1'), [put(k(1), v('a'))])
    expect(await driver().getMany([k(0x48), k(1)])).toEqual([v('h1'), v('a')])
    await expect(driver().compareAndSwap(k(0x48), undefined, v('h2'), [put(k(2), v('b'))])).rejects.toSatisfy(conflict)
    expect(await driver().getMany([k(0x48), k(2)])).toEqual([v('h1'), undefined])
  })

  it('compareAndSwap: a match by bytes (not identity) swaps and writes its ops, dels included', async () => {
    await driver().write([put(k(0x48), v('h1')), put(k(7), v('old'))], { sync: true })
    await driver().compareAndSwap(k(0x48), v('h1'), v('h2'), [put(k(1), v('a')), { type: 'del', key: k(7) }])
    expect(await driver().getMany([k(0x48), k(1), k(7)])).toEqual([v('h2'), v('a'), undefined])
    const stored = (await driver().get(k(0x48)))!
    await driver().compareAndSwap(k(0x48), stored, v('h3'), [])
    expect(await driver().get(k(0x48))).toEqual(v('h3'))
  })

  it('compareAndSwap: a mismatch throws SWAP_CONFLICT and writes none of its ops', async () => {
    await driver().write([put(k(0x48), v('h1')), put(k(7), v('keep'))], { sync: true })
    const ops: WriteOp[] = [put(k(1), v('a')), { type: 'del', key: k(7) }]
    for (const expected of [v('h0'), v('h'), v('h1\x00'), undefined]) {
      const error = await driver().compareAndSwap(k(0x48), expected, v('h2'), ops).catch((e: unknown) => e)
      expect(isStorageError(error, 'SWAP_CONFLICT')).toBe(true)
    }
    await expect(driver().compareAndSwap(k(0x49), v('h1'), v('h2'), ops)).rejects.toSatisfy(conflict)
    expect(await driver().getMany([k(0x48), k(0x49), k(1), k(7)])).toEqual([v('h1'), undefined, undefined, v('keep')])
    await driver().compareAndSwap(k(0x48), v('h1'), v('h2'), [])
    expect(await driver().get(k(0x48))).toEqual(v('h2'))
  })

  it('compareAndSwap: of N concurrent swaps from the same value exactly one wins', async () => {
    await driver().write([put(k(0x48), v('start'))], { sync: true })
    const n = 16
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) =>
      driver().compareAndSwap(k(0x48), v('start'), v(`next-${i}`), [put(k(0x20, i), v('op'))])))
    const winners = results.flatMap((result, i) => (result.status === 'fulfilled' ? [i] : []))
    expect(winners).toHaveLength(1)
    for (const result of results) if (result.status === 'rejected') expect(conflict(result.reason)).toBe(true)
    expect(await driver().get(k(0x48))).toEqual(v(`next-${winners[0]}`))
    const written = await rows(driver(), { gte: k(0x20), lte: k(0x20, 0xff) })
    expect(written.map(([key]) => key)).toEqual([k(0x20, winners[0]!)])
  })

  it('compareAndSwap: concurrent read-and-retry writers lose no update', async () => {
    const increment = async (): Promise<void> => {
      for (;;) {
        const current = await driver().get(k(0x43))
        const next = v(String(Number(current === undefined ? '0' : new TextDecoder().decode(current)) + 1))
        try {
          return await driver().compareAndSwap(k(0x43), current, next, [])
        } catch (error) {
          if (!conflict(error)) throw error
        }
      }
    }
    await Promise.all(Array.from({ length: 20 }, increment))
    expect(new TextDecoder().decode(await driver().get(k(0x43)))).toBe('20')
  })

  it('compareAndSwap: compares with what is stored after a write or another swap changed the key', async () => {
    await driver().compareAndSwap(k(0x48), undefined, v('h1'), [])
    await driver().write([put(k(0x48), v('written'))], { sync: true })
    await expect(driver().compareAndSwap(k(0x48), v('h1'), v('h2'), [])).rejects.toSatisfy(conflict)
    await driver().compareAndSwap(k(0x48), v('written'), v('h2'), [])
    // A swap of another key whose ops change this one.
    await driver().compareAndSwap(k(0x49), undefined, v('x'), [put(k(0x48), v('by-ops'))])
    await expect(driver().compareAndSwap(k(0x48), v('h2'), v('h3'), [])).rejects.toSatisfy(conflict)
    await driver().write([{ type: 'del', key: k(0x48) }], { sync: true })
    await driver().compareAndSwap(k(0x48), undefined, v('h4'), [])
    expect(await driver().get(k(0x48))).toEqual(v('h4'))
  })

  it('compareAndSwapAll: swaps every key and writes its ops when all match, nothing when one does not', async () => {
    await driver().write([put(k(0x48), v('a1')), put(k(0x49), v('b1'))], { sync: true })
    const swaps = (a: string | undefined, b: string | undefined) => [
      { key: k(0x48), expected: a === undefined ? undefined : v(a), next: v('a2') },
      { key: k(0x49), expected: b === undefined ? undefined : v(b), next: v('b2') },
      { key: k(0x4a), expected: undefined, next: v('c2') },
    ]
    for (const [a, b] of [['a1', 'b0'], ['a0', 'b1'], [undefined, 'b1']] as const) {
      await expect(driver().compareAndSwapAll(swaps(a, b), [put(k(1), v('op'))])).rejects.toSatisfy(conflict)
    }
    expect(await driver().getMany([k(0x48), k(0x49), k(0x4a), k(1)])).toEqual([v('a1'), v('b1'), undefined, undefined])
    await driver().compareAndSwapAll(swaps('a1', 'b1'), [put(k(1), v('op'))])
    expect(await driver().getMany([k(0x48), k(0x49), k(0x4a), k(1)])).toEqual([v('a2'), v('b2'), v('c2'), v('op')])
    await expect(driver().compareAndSwapAll([{ key: k(5), expected: undefined, next: v('x') }, { key: k(5), expected: undefined, next: v('y') }], []))
      .rejects.toThrow(TypeError)
  })

  it('compareAndSwapAll: concurrent swaps sharing a key exclude each other; one on other keys does not wait on them', async () => {
    await driver().write([put(k(0x48), v('0')), put(k(0x49), v('0'))], { sync: true })
    const results = await Promise.allSettled([
      driver().compareAndSwapAll([{ key: k(0x48), expected: v('0'), next: v('x') }, { key: k(0x49), expected: v('0'), next: v('x') }], []),
      driver().compareAndSwapAll([{ key: k(0x49), expected: v('0'), next: v('y') }], []),
      driver().compareAndSwapAll([{ key: k(0x4b), expected: undefined, next: v('z') }], []),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(await driver().getMany([k(0x48), k(0x49), k(0x4b)])).toEqual([v('x'), v('x'), v('z')])
  })

  it('compareAndSwap: swaps of different keys do not conflict', async () => {
    await Promise.all(Array.from({ length: 8 }, (_, i) => driver().compareAndSwap(k(0x48, i), undefined, v(`h${i}`), [])))
    expect(await driver().getMany(Array.from({ length: 8 }, (_, i) => k(0x48, i)))).toEqual(
      Array.from({ length: 8 }, (_, i) => v(`h${i}`)))
  })
}

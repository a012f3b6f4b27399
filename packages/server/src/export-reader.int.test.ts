// GET /v1/logs/{log}/export to a reader that takes its time: the server reads from storage only
// as fast as the socket drains, so what it holds for one export is bounded by the socket's
// buffers and one chunk, not by the size of the log.
import { get, type IncomingMessage } from 'node:http'
import { setImmediate as yieldToServer } from 'node:timers/promises'
import { LevelDriver, type RangeOptions, type StorageDriver, type WriteOp } from '@annal/storage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LiveHarness, bearer, liveHarness } from './testing/fixture.js'

const ENTRY_BYTES = 4096
const ENTRIES = 12_000
/** Loopback socket buffers (a few MiB each way) and one chunk of 256 entries, with room to spare. */
const MAX_AHEAD_BYTES = 16 * 2 ** 20

/** A LevelDB driver that counts the bytes of the values it reads. */
class CountingDriver implements StorageDriver {
  bytesRead = 0
  constructor(readonly inner: StorageDriver) {}
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#count(await this.inner.get(key))
  }
  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return (await this.inner.getMany(keys)).map((value) => this.#count(value))
  }
  async *range(options: RangeOptions): AsyncIterable<readonly [Uint8Array, Uint8Array]> {
    for await (const row of this.inner.range(options)) {
      this.#count(row[1])
      yield row
    }
  }
  write(ops: readonly WriteOp[], options: { readonly sync: boolean }): Promise<void> {
    return this.inner.write(ops, options)
  }
  compareAndSwap(...args: Parameters<StorageDriver['compareAndSwap']>): Promise<void> {
    return this.inner.compareAndSwap(...args)
  }
  compareAndSwapAll(...args: Parameters<StorageDriver['compareAndSwapAll']>): Promise<void> {
    return this.inner.compareAndSwapAll(...args)
  }
  close(): Promise<void> {
    return this.inner.close()
  }
  #count(value: Uint8Array | undefined): Uint8Array | undefined {
    this.bytesRead += value?.byteLength ?? 0
    return value
  }
}

let h: LiveHarness
let driver: CountingDriver

beforeAll(async () => {
  h = await liveHarness({ driver: async (directory) => (driver = new CountingDriver(await LevelDriver.open(directory))) })
  await h.ledger.createLog('bulk')
  const padding = 'x'.repeat(ENTRY_BYTES)
  for (let i = 0; i < ENTRIES; i += 1000) {
    await h.ledger.log('bulk').append(Array.from({ length: 1000 }, (_, j) => new TextEncoder().encode(`{"n":${i + j},"pad":"${padding}"}`)))
  }
})
afterAll(async () => h?.close())

describe('an export read slowly', () => {
  it('reads storage no further ahead of the reader than the socket buffers and one chunk', async () => {
    const token = await h.mint.token({ scope: 'log:read' })
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      get(h.url('/v1/logs/bulk/export'), { headers: bearer(token) }, resolve).on('error', reject)
    })
    expect(response.statusCode).toBe(200)
    let ended = false
    response.on('end', () => { ended = true })
    const start = driver.bytesRead
    let received = 0
    let lines = 0
    let maxAhead = 0
    while (!ended) {
      // 64 KiB at a time, letting the server run between reads as far as it likes.
      const chunk = (response.read(64 * 1024) ?? response.read()) as Buffer | null
      if (chunk === null) {
        await new Promise((resolve) => response.once('readable', resolve))
        continue
      }
      received += chunk.byteLength
      for (const byte of chunk) if (byte === 0x0a) lines++
      for (let i = 0; i < 4; i++) await yieldToServer()
      maxAhead = Math.max(maxAhead, driver.bytesRead - start - received)
    }
    expect(lines).toBe(ENTRIES)
    expect(received).toBeGreaterThan(ENTRIES * ENTRY_BYTES)
    expect(maxAhead).toBeLessThan(MAX_AHEAD_BYTES)
  })
})

// The publisher against a real S3-compatible server (s3rver over HTTP, SigV4 checked) and a real
// ledger on LevelDB: what lands in the bucket is compared with what the ledger serves.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger, type Log } from '@annal/store'
import { TILE_WIDTH, type TileResource } from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { filledTiles, partialTiles, tilePath } from './layout.js'
import { Publisher, type PublisherOptions } from './publisher.js'
import { S3Bucket } from './s3.js'
import { S3RVER_CREDENTIALS, TestS3Server } from './testing/s3-server.js'

let directory: string
let ledger: Ledger
let s3: TestS3Server
const closing: (() => Promise<void> | void)[] = []

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-publish-'))
  ledger = await Ledger.open(join(directory, 'ledger'), { originPrefix: 'publish.test' })
  await ledger.createLog('audit')
  s3 = await TestS3Server.start(join(directory, 's3'), 'tiles')
})

afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close()
  await ledger.close()
  await s3.close()
  await rm(directory, { recursive: true, force: true })
})

function bucket(prefix = 'logs'): S3Bucket {
  const made = new S3Bucket({ bucket: 'tiles', prefix, endpoint: s3.url, pathStyle: true, credentials: S3RVER_CREDENTIALS })
  closing.push(() => made.close())
  return made
}

function publisher(options: Partial<PublisherOptions> = {}): Publisher {
  const made = new Publisher({ ledger, bucket: bucket(), retryMs: 20, maxRetryMs: 100, intervalMs: 0, ...options })
  closing.push(() => made.close())
  made.start()
  return made
}

async function append(log: Log, count: number): Promise<void> {
  const from = log.size
  await log.append(Array.from({ length: count }, (_, i) => new TextEncoder().encode(`{"event":${from + i}}`)))
}

/** Polls `check` every 10 ms, for up to 20 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (const started = Date.now(); !check();) {
    if (Date.now() - started > 20_000) throw new Error(`not within 20 s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const publishedSize = (p: Publisher, log = 'audit') => p.status().find((status) => status.log === log)?.publishedSize

async function get(key: string): Promise<Response> {
  return fetch(s3.objectUrl(key))
}

async function readTile(log: Log, tile: TileResource): Promise<Uint8Array> {
  return tile.kind === 'entries' ? log.entryBundle(tile.index, tile.width) : log.hashTile(tile.level, tile.index, tile.width)
}

const puts = (key: string) => s3.requests.filter((request) => request.method === 'PUT' && request.key === key).length

describe('Publisher', () => {
  it('puts every full and partial tile, bundle and the checkpoint, as the ledger serves them', async () => {
    const log = ledger.log('audit')
    await append(log, 100)
    await append(log, 500)
    const published = publisher()
    await until(() => publishedSize(published) === 600, 'size 600 published')
    const tiles = [...filledTiles(0, 512), ...partialTiles(600)]
    expect(tiles.map(tilePath)).toContain('tile/1/000.p/2')
    for (const tile of tiles) {
      const response = await get(`logs/audit/${tilePath(tile)}`)
      expect(response.status, tilePath(tile)).toBe(200)
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(await readTile(log, tile))
      expect(response.headers.get('content-type')).toBe('application/octet-stream')
      expect(response.headers.get('cache-control'), tilePath(tile))
        .toBe(tile.width === TILE_WIDTH ? 'public, max-age=31536000, immutable' : 'public, max-age=10')
    }
    const checkpoint = await get('logs/audit/checkpoint')
    expect(await checkpoint.text()).toBe(await log.checkpoint(600))
    expect(checkpoint.headers.get('cache-control')).toBe('public, no-cache')
    expect(checkpoint.headers.get('content-type')).toBe('text/plain; charset=utf-8')
  })

  it('publishes only the logs it is given, and new logs as they come', async () => {
    await ledger.createLog('private')
    await append(ledger.log('private'), 3)
    const published = publisher({ logs: (name) => name !== 'private' })
    await ledger.createLog('later')
    await append(ledger.log('later'), 2)
    await until(() => publishedSize(published, 'later') === 2 && publishedSize(published) === 0, 'the logs published')
    expect(s3.requests.filter((request) => request.key.startsWith('logs/private/'))).toEqual([])
    expect(published.status().map((status) => status.log).sort()).toEqual(['audit', 'later'])
  })

  it('keeps a checkpoint out of the bucket until every tile it needs is in, and catches up after failures', async () => {
    const log = ledger.log('audit')
    await append(log, 100)
    const failures: string[] = []
    const recoveries: number[] = []
    const published = publisher({ onFailure: (name) => failures.push(name), onRecovery: (_, size) => recoveries.push(size) })
    await until(() => publishedSize(published) === 100, 'size 100 published')
    s3.fault = (request) => (request.method === 'PUT' && request.key === 'logs/audit/tile/0/001' ? 500 : undefined)
    await append(log, 500)
    expect(log.size).toBe(600)
    await until(() => (published.status()[0]?.consecutiveFailures ?? 0) >= 3, 'three failures in a row')
    expect(published.status()[0]).toMatchObject({ publishedSize: 100, lastError: expect.stringContaining('InternalError') })
    expect(await (await get('logs/audit/checkpoint')).text()).toBe(await log.checkpoint(100))
    expect((await get('logs/audit/tile/0/001')).status).toBe(404)
    s3.fault = undefined
    await until(() => publishedSize(published) === 600, 'size 600 published')
    expect(await (await get('logs/audit/checkpoint')).text()).toBe(await log.checkpoint(600))
    expect(failures).toEqual(['audit'])
    expect(recoveries).toEqual([600])
    expect(published.status()[0]).toMatchObject({ consecutiveFailures: 0, lastError: undefined })
  })

  it('resumes from the progress kept in the ledger, per destination', async () => {
    const log = ledger.log('audit')
    await append(log, 600)
    const first = publisher()
    await until(() => publishedSize(first) === 600, 'size 600 published')
    await first.close()
    await append(log, 1)
    const before = s3.requests.length
    const second = publisher()
    await until(() => publishedSize(second) === 601, 'size 601 published')
    const again = s3.requests.slice(before).filter((request) => request.method === 'PUT').map((request) => request.key).sort()
    expect(again).toEqual(['logs/audit/checkpoint', 'logs/audit/tile/0/002.p/89', 'logs/audit/tile/1/000.p/2', 'logs/audit/tile/entries/002.p/89'])
    // Another prefix is another destination: it starts from nothing.
    const elsewhere = new Publisher({ ledger, bucket: bucket('mirror'), intervalMs: 0 })
    closing.push(() => elsewhere.close())
    elsewhere.start()
    await until(() => publishedSize(elsewhere) === 601, 'size 601 published to the mirror')
    expect(puts('mirror/audit/tile/0/000')).toBe(1)
    expect(puts('logs/audit/tile/0/000')).toBe(1)
  })

  it('publishes the checkpoint it is told to, with the partial tiles of its size', async () => {
    const log = ledger.log('audit')
    await append(log, 300)
    await append(log, 300)
    let served = 300
    const published = publisher({ checkpoint: async (of) => ({ size: served, note: await of.checkpoint(served) }) })
    await until(() => publishedSize(published) === 300, 'size 300 published')
    expect(await (await get('logs/audit/checkpoint')).text()).toBe(await log.checkpoint(300))
    expect((await get('logs/audit/tile/0/001.p/44')).status).toBe(200)
    expect((await get('logs/audit/tile/0/001')).status).toBe(404)
    served = 600
    await until(() => publishedSize(published) === 600, 'size 600 published')
    expect((await get('logs/audit/tile/0/001')).status).toBe(200)
  })

  it('keeps its progress after each chunk of entries\' full tiles', async () => {
    const log = ledger.log('audit')
    await append(log, 4 * TILE_WIDTH + 3)
    s3.fault = (request) => (request.method === 'PUT' && request.key === 'logs/audit/tile/0/003' ? 500 : undefined)
    const first = publisher({ chunkEntries: 2 * TILE_WIDTH })
    await until(() => (first.status()[0]?.consecutiveFailures ?? 0) >= 1, 'a failure in the second chunk')
    await first.close()
    s3.fault = undefined
    const before = s3.requests.length
    const second = publisher({ chunkEntries: 2 * TILE_WIDTH })
    await until(() => publishedSize(second) === 4 * TILE_WIDTH + 3, 'published')
    const again = s3.requests.slice(before).filter((request) => request.method === 'PUT').map((request) => request.key.slice('logs/audit/'.length))
    expect(again.sort()).toEqual(['checkpoint', 'tile/0/002', 'tile/0/003', 'tile/0/004.p/3', 'tile/1/000.p/4',
      'tile/entries/002', 'tile/entries/003', 'tile/entries/004.p/3'])
    expect(() => new Publisher({ ledger, bucket: bucket(), chunkEntries: 100 })).toThrow(RangeError)
  })

  it('has at most maxUploads requests in flight', async () => {
    await append(ledger.log('audit'), 16 * TILE_WIDTH)
    const published = publisher({ maxUploads: 2 })
    await until(() => publishedSize(published) === 16 * TILE_WIDTH, 'published')
    expect(s3.requests.filter((request) => request.method === 'PUT')).toHaveLength(2 * 16 + 1 + 1)
    expect(s3.maxInFlight).toBeLessThanOrEqual(2)
  })
})

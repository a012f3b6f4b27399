/**
 * @module
 * Publishes a ledger's logs to S3-compatible object storage in the C2SP tlog-tiles layout:
 * full tiles and entry bundles (immutable), the partial ones and the checkpoint (short-lived),
 * so that clients, monitors and witnesses can read logs from a bucket or a CDN. Start with
 * `parseS3Url`, `S3Bucket` and `Publisher`.
 * @example
 * import { mkdtemp, rm } from 'node:fs/promises'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { Ledger } from '@annal/store'
 * import { type ObjectBucket, Publisher } from '@annal/publish'
 *
 * // A bucket in memory, to show the layout; `new S3Bucket({ ...parseS3Url('s3://bucket/logs') })` is a real one.
 * const objects = new Map<string, { body: Uint8Array; cacheControl: string }>()
 * const bucket: ObjectBucket = { id: 'memory', put: async (path, body, { cacheControl }) => void objects.set(path, { body, cacheControl }) }
 * const directory = await mkdtemp(join(tmpdir(), 'annal-publish-example-'))
 * const ledger = await Ledger.open(directory)
 * const publisher = new Publisher({ ledger, bucket })
 * try {
 *   await ledger.createLog('audit')
 *   await ledger.log('audit').append(Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`event ${i}`)))
 *   publisher.start()
 *   for (let waited = 0; publisher.status()[0]?.publishedSize !== 300; waited += 10) {
 *     if (waited > 10_000) throw new Error('not published')
 *     await new Promise((resolve) => setTimeout(resolve, 10))
 *   }
 *   // audit/tile/0/000 and audit/tile/entries/000 (immutable), audit/tile/0/001.p/44, audit/tile/1/000.p/1,
 *   // audit/tile/entries/001.p/44 (short-lived), audit/checkpoint
 *   if (objects.get('audit/tile/0/000')?.cacheControl !== 'public, max-age=31536000, immutable') throw new Error('no full tile')
 *   if (!objects.has('audit/tile/0/001.p/44') || !objects.has('audit/checkpoint')) throw new Error('no partial tile or checkpoint')
 * } finally {
 *   await publisher.close()
 *   await ledger.close()
 *   await rm(directory, { recursive: true, force: true })
 * }
 */
export type { ObjectBucket, ObjectHeaders } from './bucket.js'
export {
  CHECKPOINT_CACHE, CHECKPOINT_CONTENT_TYPE, IMMUTABLE, SHORT_LIVED, TILE_CONTENT_TYPE, filledTiles, partialTiles, tilePath,
} from './layout.js'
export { Publisher } from './publisher.js'
export type { PublishStatus, PublishedCheckpoint, PublisherOptions } from './publisher.js'
export { S3Bucket, describeTarget, parseS3Url, s3ClientConfig } from './s3.js'
export type { S3Credentials, S3Target } from './s3.js'

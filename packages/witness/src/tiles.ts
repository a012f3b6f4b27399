import { nodeHasher } from '@annal/crypto-node'
import { isBodyError, readBody } from '@annal/http'
import {
  HASH_SIZE, TILE_WIDTH, TlogError, bytesEqual, consistencyPlan, hashTilePath, planTiles, proofFromTiles,
  rootPlan, verifyConsistency, type TileId,
} from '@annal/tlog'
import type { ConsistencyShown } from './evidence.js'
import { deadline } from './internal/deadline.js'

/** A checkpoint's size and root: all a consistency check needs of it. */
export interface TreeHead {
  readonly size: number
  readonly rootHash: Uint8Array
}

export interface TileFetchOptions {
  /** Limit on each tile request (connect, answer, body), in ms. */
  readonly timeoutMs: number
  /** Aborts every request (the witness is closing). */
  readonly signal?: AbortSignal
  readonly fetch?: typeof fetch
}

/** What the log's tiles at the larger size show, and which tiles were read (paths). */
export type TileCheck =
  | { readonly kind: 'consistent'; readonly tiles: readonly string[] }
  | { readonly kind: 'inconsistent'; readonly shown: ConsistencyShown; readonly tiles: readonly string[] }

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE

/**
 * Reads the hash tiles of the larger tree from the log's tlog-tiles prefix `url` and checks
 * the two tree heads (0 < smaller.size < larger.size) against them: the tiles must give a
 * consistency proof from the first `smaller.size` leaves to `larger`'s root; then the root of
 * those leaves either is `smaller`'s (consistent) or is not (inconsistent, with the proof).
 * Each tile is the full tile, cut to the width needed, or on 404 the partial `.p/<W>`.
 * Throws on anything else, and then nothing is shown: TILE_NOT_FOUND (404 for both, or
 * another status), TILE_MALFORMED (wrong length), PROOF_ROOT_MISMATCH (the tiles do not hash
 * to `larger`'s root), BODY_MALFORMED, or the fetch's error (timeout, refused, aborted).
 */
export async function checkWithTiles(url: string, smaller: TreeHead, larger: TreeHead,
    options: TileFetchOptions): Promise<TileCheck> {
  if (!(smaller.size > 0 && smaller.size < larger.size)) throw new RangeError('needs 0 < smaller size < larger size')
  const proofPlan = consistencyPlan(smaller.size, larger.size)
  const oldPlan = rootPlan(smaller.size)
  const tiles = planTiles({ elements: [...proofPlan.elements, ...oldPlan.elements] }, larger.size)
  const fetched = new Map<string, Uint8Array>()
  const read: string[] = []
  for (const tile of tiles) {
    const { path, bytes } = await fetchTile(url, tile, options)
    read.push(path)
    fetched.set(`${tile.level}/${tile.index}`, bytes)
  }
  const lookup = (tile: TileId): Uint8Array | undefined => fetched.get(`${tile.level}/${tile.index}`)
  const proof = proofFromTiles(proofPlan, larger.size, lookup, nodeHasher)
  const [rootHash] = proofFromTiles(oldPlan, larger.size, lookup, nodeHasher) as [Uint8Array]
  try {
    verifyConsistency(smaller.size, larger.size, proof, rootHash, larger.rootHash, nodeHasher)
  } catch (error) {
    throw new TlogError('PROOF_ROOT_MISMATCH', `the tiles do not hash to the root of the checkpoint of size ${larger.size}`, { cause: error })
  }
  return bytesEqual(rootHash, smaller.rootHash)
    ? { kind: 'consistent', tiles: read }
    : { kind: 'inconsistent', shown: { rootHash, proof }, tiles: read }
}

/** One tile, `width` hashes: the full tile cut, or on 404 the partial one. */
async function fetchTile(url: string, tile: TileId, options: TileFetchOptions): Promise<{ path: string; bytes: Uint8Array }> {
  const fullPath = hashTilePath({ ...tile, width: TILE_WIDTH })
  const full = await get(`${url}/${fullPath}`, FULL_TILE_BYTES, options)
  if (full !== undefined) {
    if (full.length !== FULL_TILE_BYTES) throw new TlogError('TILE_MALFORMED', `${fullPath} is not ${TILE_WIDTH} hashes long`)
    return { path: fullPath, bytes: full.subarray(0, tile.width * HASH_SIZE) }
  }
  const path = hashTilePath(tile)
  const partial = tile.width === TILE_WIDTH ? undefined : await get(`${url}/${path}`, tile.width * HASH_SIZE, options)
  if (partial === undefined) throw new TlogError('TILE_NOT_FOUND', `${path} was not found`)
  if (partial.length !== tile.width * HASH_SIZE) throw new TlogError('TILE_MALFORMED', `${path} is not ${tile.width} hashes long`)
  return { path, bytes: partial }
}

/** The body of a 200 (at most `limit` bytes, else TILE_MALFORMED); undefined for 404; throws otherwise. */
async function get(href: string, limit: number, options: TileFetchOptions): Promise<Uint8Array | undefined> {
  const { signal, done } = deadline(options.timeoutMs, options.signal)
  try {
    const response = await (options.fetch ?? fetch)(href, { signal })
    if (response.status !== 200) {
      void response.body?.cancel().catch(() => undefined)
      if (response.status === 404) return undefined
      throw new TlogError('TILE_NOT_FOUND', `the tile server answered ${response.status}`)
    }
    return await readBody(response, limit)
  } catch (error) {
    if (isBodyError(error, 'BODY_TOO_LARGE')) throw new TlogError('TILE_MALFORMED', 'a tile is too long', { cause: error })
    throw error
  } finally {
    done()
  }
}

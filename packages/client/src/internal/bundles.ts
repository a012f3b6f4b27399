import {
  MemoryTree, TILE_HEIGHT, TILE_WIDTH, assembleProof, bytesEqual, decodeEntryBundle, defaultHasher, entryBundlePath,
  hashTilePath, inclusionPlan, nodeFromTiles, planTiles, rootFromInclusionProof, rootPlan, type NodeId, type ProofPlan, type TileId,
} from '@annal/tlog'
import { translate } from '../checkpoint.js'
import { ClientError } from '../errors.js'
import type { MonitorEntry } from '../monitor.js'
import type { LogReader } from './http.js'
import { edgeNodes, rootFromEdge } from './range.js'

const tileKey = (tile: TileId): string => `${tile.level}/${tile.index}/${tile.width}`
const TILE_ERRORS = { TILE_MALFORMED: 'RESPONSE_INVALID', TILE_NOT_FOUND: 'RESPONSE_INVALID' } as const

/**
 * Reads a log's entry bundles and hash tiles at one trusted tree (size and root), and proves
 * each bundle on its own against the root before any of its entries is yielded, so that a
 * reader holds one bundle and the tiles of one proof at a time, however far behind it is.
 *
 * A full bundle is a perfect subtree of 256 leaves, so it is a node of the tree at any larger
 * size: the inclusion path of its first leaf climbs 8 levels inside it (hashed here from the
 * bundle's own leaves) and then through nodes read from the hash tiles. The path reaching the
 * signed root proves all 256 leaves, since each is under the subtree hash. The partial last
 * bundle is proven as the tree's right edge: the perfect subtrees left of it (from the tiles)
 * folded with its leaves must give the root.
 */
export class BundleReader {
  readonly #reader: LogReader
  readonly #url: string
  readonly #size: number
  readonly #rootHash: Uint8Array
  /** The tiles of the last proof: consecutive bundles share most of them. */
  #tiles = new Map<string, Uint8Array>()

  constructor(reader: LogReader, url: string, tree: { size: number; rootHash: Uint8Array }) {
    this.#reader = reader
    this.#url = url
    this.#size = tree.size
    this.#rootHash = tree.rootHash
  }

  /**
   * The entries from `from` to the tree's size, one proven bundle at a time; the next bundle is
   * read only when the caller asks for it. Throws ClientError INCLUSION_FAILED for a bundle that
   * does not hash to the root, RESPONSE_INVALID for one that does not parse.
   */
  async *entries(from: number): AsyncGenerator<MonitorEntry[]> {
    for (let bundle = Math.floor(from / TILE_WIDTH); bundle * TILE_WIDTH < this.#size; bundle++) {
      const start = bundle * TILE_WIDTH
      const entries = await this.#bundle(bundle, Math.min(TILE_WIDTH, this.#size - start))
      const leafHashes = entries.map((bytes) => defaultHasher.leaf(bytes))
      const root = entries.length === TILE_WIDTH ? await this.#rootOverFull(start, leafHashes) : await this.#rootOverEdge(start, leafHashes)
      if (!bytesEqual(root, this.#rootHash)) {
        throw new ClientError('INCLUSION_FAILED',
          `entries ${start} to ${start + entries.length - 1} do not hash to the root of size ${this.#size}`)
      }
      const first = Math.max(0, from - start)
      yield entries.slice(first).map((bytes, i) => Object.freeze({ index: start + first + i, bytes, leafHash: leafHashes[first + i]! }))
    }
  }

  /**
   * The root of the tree's first `size` leaves (0 < size <= the tree's size), folded from the
   * hash tiles as served: only a proof that leads from it to the signed root vouches for it.
   * Throws ClientError RESPONSE_INVALID for a tile that is missing or does not parse.
   */
  async treeHash(size: number): Promise<Uint8Array> {
    const plan = rootPlan(size)
    const [root] = await this.#nodes(plan, (hashOf) => assembleProof(plan, hashOf, defaultHasher))
    return root!
  }

  /** The root that a full bundle's leaves, starting at `start`, give with the tiles' path above them. */
  async #rootOverFull(start: number, leafHashes: Uint8Array[]): Promise<Uint8Array> {
    const bundle = new MemoryTree()
    bundle.appendMany(leafHashes)
    const above: ProofPlan = { elements: inclusionPlan(start, this.#size).elements.slice(TILE_HEIGHT) }
    const hashes = await this.#nodes(above, (hashOf) => assembleProof(above, hashOf, defaultHasher))
    return rootFromInclusionProof(start, this.#size, leafHashes[0]!, [...bundle.inclusionProof(0, TILE_WIDTH), ...hashes])
  }

  /** The root that the last, partial bundle's leaves give after the perfect subtrees left of them. */
  async #rootOverEdge(start: number, leafHashes: Uint8Array[]): Promise<Uint8Array> {
    const left = edgeNodes(start)
    const edge = left.length === 0 ? [] : await this.#nodes({ elements: [left] }, (hashOf) => left.map(hashOf))
    return rootFromEdge(start, edge, leafHashes, defaultHasher)
  }

  /** Fetches the tiles that hold the nodes of `plan` (keeping only those), then reads them with `use`. */
  async #nodes(plan: ProofPlan, use: (hashOf: (node: NodeId) => Uint8Array) => Uint8Array[]): Promise<Uint8Array[]> {
    const tiles = new Map<string, Uint8Array>()
    for (const tile of planTiles(plan, this.#size)) {
      const key = tileKey(tile)
      tiles.set(key, this.#tiles.get(key) ?? await this.#tile(tile))
    }
    this.#tiles = tiles
    try {
      return use((node) => nodeFromTiles(node, this.#size, (tile) => tiles.get(tileKey(tile))))
    } catch (error) {
      return translate(error, TILE_ERRORS, 'a hash tile is not as served')
    }
  }

  async #tile(tile: TileId): Promise<Uint8Array> {
    const response = await this.#reader.public(`${this.#url}/${hashTilePath(tile)}`)
    return new Uint8Array(await response.arrayBuffer())
  }

  /** The entries of bundle `index` at `width`. Throws ClientError RESPONSE_INVALID. */
  async #bundle(index: number, width: number): Promise<Uint8Array[]> {
    const response = await this.#reader.restricted(`${this.#url}/${entryBundlePath(index, width)}`)
    let entries: Uint8Array[]
    try {
      entries = decodeEntryBundle(new Uint8Array(await response.arrayBuffer()))
    } catch (error) {
      return translate(error, { TILE_MALFORMED: 'RESPONSE_INVALID' }, `entry bundle ${index} does not parse`)
    }
    if (entries.length !== width) throw new ClientError('RESPONSE_INVALID', `entry bundle ${index} does not hold ${width} entries`)
    return entries
  }
}

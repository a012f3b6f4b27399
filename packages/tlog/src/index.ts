/**
 * @module
 * The Merkle tree of RFC 6962 and RFC 9162, and the C2SP tlog-tiles layout: pure TypeScript on
 * Uint8Arrays, for Node and browsers. Leaf and node hashing, inclusion and consistency proofs
 * (planned as node lists, so that any storage can answer them), their verification, hash tiles
 * and entry bundles. Start with `MemoryTree` (or `TreeEdge`, a tree kept as tiles),
 * `verifyInclusion` and `verifyConsistency`; a failure is a `TlogError` whose `code` says why.
 * @example
 * import { MemoryTree, defaultHasher, verifyConsistency, verifyInclusion } from '@annal/tlog'
 *
 * const tree = new MemoryTree()
 * for (const event of ['login alice', 'grant bob admin', 'logout alice']) {
 *   tree.append(defaultHasher.leaf(new TextEncoder().encode(event)))
 * }
 * const leaf = tree.nodeHash({ level: 0, index: 1 })
 * // Each throws TlogError PROOF_ROOT_MISMATCH when the proof does not hold.
 * verifyInclusion(1, 3, leaf, tree.inclusionProof(1, 3), tree.root(3))
 * verifyConsistency(2, 3, tree.consistencyProof(2, 3), tree.root(2), tree.root(3))
 */
export { TLOG_ERROR_CODES, TlogError, isTlogError } from './errors.js'
export type { TlogErrorCode } from './errors.js'
export { HASH_SIZE, MerkleHasher, defaultHasher, nobleHashProvider } from './hash.js'
export type { HashProvider } from './hash.js'
export { assembleProof, consistencyPlan, inclusionPlan, planNodes, rootPlan } from './proof.js'
export type { NodeId, ProofPlan } from './proof.js'
export { bytesEqual, consistencyProofRoots, rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.js'
export {
  MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, decodeEntryBundle, decodeStoredTile, encodeEntryBundle,
  encodeTileIndex, entryBundlePath, hashTileBytes, hashTilePath, nodeLocation,
  parseTilePath, partialTileWidth, storedTileHashCount, storedTileNode, storedTileWidth,
} from './tiles.js'
export type { NodeLocation, TileId, TileResource } from './tiles.js'
export { nodeFromTiles, planTiles, proofFromTiles } from './tileproof.js'
export type { TileLookup } from './tileproof.js'
export { TreeEdge, rootFromLeafHashes } from './edge.js'
export type { Integration, StoredTile } from './edge.js'
export { MemoryTree } from './memory.js'
export { bytesToHex, concatBytes, hexToBytes } from './hex.js'

export { TLOG_ERROR_CODES, TlogError, isTlogError } from './errors.js'
export type { TlogErrorCode } from './errors.js'
export { HASH_SIZE, MerkleHasher, defaultHasher, nobleHashProvider } from './hash.js'
export type { HashProvider } from './hash.js'
export { assembleProof, consistencyPlan, inclusionPlan, planNodes, rootPlan } from './proof.js'
export type { NodeId, ProofPlan } from './proof.js'
export { bytesEqual, rootFromInclusionProof, verifyConsistency, verifyInclusion } from './verify.js'
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

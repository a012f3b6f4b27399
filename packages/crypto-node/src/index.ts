/**
 * @module
 * node:crypto behind the hash and signature interfaces of `@annal/tlog` and `@annal/note`, for
 * servers: several times the speed of the pure @noble code those packages default to. Pass
 * `nodeHasher` where a `MerkleHasher` is taken and `nodeEd25519` as a note `SignatureProvider`.
 * @example
 * import { defaultHasher } from '@annal/tlog'
 * import { nodeHasher } from '@annal/crypto-node'
 *
 * const leaf = new TextEncoder().encode('an entry')
 * const same = nodeHasher.leaf(leaf).every((byte, i) => byte === defaultHasher.leaf(leaf)[i])
 * if (!same) throw new Error('node:crypto and @noble/hashes disagree')
 */
export { nodeHashProvider, nodeHasher } from './sha256.js'
export { nodeEd25519 } from './ed25519.js'

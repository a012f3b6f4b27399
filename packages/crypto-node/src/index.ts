export { nodeHashProvider, nodeHasher } from './sha256.js'
export { nodeEd25519 } from './ed25519.js'

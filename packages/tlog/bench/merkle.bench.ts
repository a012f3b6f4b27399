// npm run bench -w packages/tlog: Merkle appends and proofs next to raw SHA-256, per provider.
// The node:crypto provider comes from the workspace (@annal/crypto-node); it is not a dependency
// of this package, so the package graph stays acyclic.
import { nodeHasher } from '@annal/crypto-node'
import {
  MemoryTree, type MerkleHasher, defaultHasher, verifyConsistency, verifyInclusion,
} from '@annal/tlog'
import { formatRate, goal, machineLine, opsPerSecond, prng, report } from '../../../scripts/bench.js'

const LEAVES = 1_000_000
const PROOFS = 20_000
const BATCH = 1000

console.log(`tlog benchmark: ${machineLine()}`)
for (const hasher of [defaultHasher, nodeHasher]) benchmark(hasher)

function benchmark(hasher: MerkleHasher): void {
  console.log(`\nprovider ${hasher.provider.name}`)
  const input = new Uint8Array(65).fill(7)
  const hashes = opsPerSecond(LEAVES, () => {
    for (let i = 0; i < LEAVES; i++) {
      input[1] = i & 0xff
      hasher.provider.sha256(input)
    }
  })
  report('SHA-256 of 65 bytes (baseline)', formatRate(hashes))

  // An append is what a log does per entry: the leaf hash of a 64-byte entry, then integration.
  const entries = Array.from({ length: BATCH }, (_, i) => new Uint8Array(64).fill(i & 0xff))
  const tree = new MemoryTree(hasher)
  const appends = opsPerSecond(LEAVES, () => {
    for (let done = 0; done < LEAVES; done += BATCH) {
      tree.appendMany(entries.map((entry, i) => {
        entry[0] = (done + i) & 0xff
        entry[1] = ((done + i) >> 8) & 0xff
        entry[2] = (done + i) >> 16
        return hasher.leaf(entry)
      }))
    }
  })
  report(`appends, ${LEAVES.toLocaleString('en-US')} leaves in batches of ${BATCH}`, formatRate(appends),
    `${(appends / hashes).toFixed(2)} of SHA-256; ${goal(appends / hashes >= 0.4, '>= 0.40')}`)

  const random = prng()
  const size = tree.size
  const root = tree.root()
  const pairs = Array.from({ length: PROOFS }, () => Math.floor(random() * size))
  const leafHash = (index: number) => tree.nodeHash({ level: 0, index })
  let inclusion: Uint8Array[][] = []
  report('inclusion proofs generated (random index, latest size)', formatRate(opsPerSecond(PROOFS, () => {
    inclusion = pairs.map((index) => tree.inclusionProof(index, size))
  })))
  report('inclusion proofs verified', formatRate(opsPerSecond(PROOFS, () => {
    pairs.forEach((index, i) => verifyInclusion(index, size, leafHash(index), inclusion[i]!, root, hasher))
  })))

  const oldSizes = pairs.map((m) => Math.max(1, m))
  const oldRoots = oldSizes.map((m) => tree.root(m))
  let consistency: Uint8Array[][] = []
  report('consistency proofs generated (random old size)', formatRate(opsPerSecond(PROOFS, () => {
    consistency = oldSizes.map((m) => tree.consistencyProof(m, size))
  })))
  report('consistency proofs verified', formatRate(opsPerSecond(PROOFS, () => {
    oldSizes.forEach((m, i) => verifyConsistency(m, size, consistency[i]!, oldRoots[i]!, root, hasher))
  })))
}

import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { HASH_SIZE, defaultHasher } from './hash.js'
import { bytesToHex, concatBytes } from './hex.js'
import { MemoryTree } from './memory.js'
import { type ProofPlan, assembleProof, consistencyPlan, inclusionPlan, planNodes, rootPlan } from './proof.js'
import { ReferenceTree, testLeafHashes } from './testing/reference.js'
import { nodeFromTiles, planTiles, proofFromTiles, type TileLookup } from './tileproof.js'
import { TILE_WIDTH, type TileId, nodeLocation } from './tiles.js'
import { verifyConsistency, verifyInclusion } from './verify.js'

const hasher = defaultHasher
const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })
const hex = (hashes: readonly Uint8Array[]) => hashes.map(bytesToHex).join(',')

const LEAVES = 600
/** Sizes each side of every power of two and of every level-0 tile boundary up to LEAVES. */
const EDGES = [...new Set([
  ...Array.from({ length: 10 }, (_, k) => 2 ** k).flatMap((p) => [p - 1, p, p + 1]),
  ...[1, 2].flatMap((tiles) => [-1, 0, 1].map((d) => tiles * TILE_WIDTH + d)), LEAVES,
])].sort((a, b) => a - b)
const sizeArb = fc.oneof(fc.constantFrom(...EDGES), fc.integer({ min: 0, max: LEAVES }))

/**
 * The tiles a log publishes at some size, from a function giving the hash of node (level,
 * index): tile (L, N) of width W holds nodes (8L, 256N) .. (8L, 256N + W - 1). Every lookup
 * is counted and checked against the width planTiles asked for.
 */
function tileSource(nodeHash: (level: number, index: number) => Uint8Array, asked?: TileId[]): TileLookup {
  return (tile) => {
    if (asked !== undefined) expect(asked).toContainEqual(tile)
    let cache = tileCache.get(nodeHash)
    if (cache === undefined) tileCache.set(nodeHash, cache = new Map())
    const key = `${tile.level}/${tile.index}/${tile.width}`
    let bytes = cache.get(key)
    if (bytes === undefined) {
      bytes = concatBytes(...Array.from({ length: tile.width }, (_, i) => nodeHash(8 * tile.level, tile.index * TILE_WIDTH + i)))
      cache.set(key, bytes)
    }
    return bytes
  }
}
const tileCache = new Map<unknown, Map<string, Uint8Array>>()

function fromTiles(plan: ProofPlan, size: number, nodeHash: (level: number, index: number) => Uint8Array): Uint8Array[] {
  const tiles = planTiles(plan, size)
  return proofFromTiles(plan, size, tileSource(nodeHash, tiles), hasher)
}

describe('proofs from hash tiles, against the RFC 6962 definitions', () => {
  const leaves = testLeafHashes(LEAVES, hasher)
  const reference = new ReferenceTree(leaves, hasher)
  // C2SP tlog-tiles: tile hash i of tile N at level L is MTH of 256^L leaves from (256N + i) * 256^L.
  const nodes = new Map<string, Uint8Array>()
  const mthNode = (level: number, index: number) => {
    const key = `${level}/${index}`
    let hash = nodes.get(key)
    if (hash === undefined) nodes.set(key, hash = reference.mth(index * 2 ** level, (index + 1) * 2 ** level))
    return hash
  }
  const checkConsistency = (m: number, n: number) => {
    const proof = fromTiles(consistencyPlan(m, n), n, mthNode)
    expect(hex(proof)).toBe(hex(reference.consistency(m, n)))
    verifyConsistency(m, n, proof, reference.mth(0, m), reference.mth(0, n), hasher)
  }
  const checkInclusion = (index: number, n: number) => {
    expect(hex(fromTiles(inclusionPlan(index, n), n, mthNode))).toBe(hex(reference.path(index, 0, n)))
  }

  // Every pair where a proof's nodes all sit in the rows of one tile, and past that the sizes
  // where the tiling changes (each side of a power of two and of a tile boundary), then random
  // pairs. An exhaustive sweep to 300 took most of the suite's time for no other shape.
  it('consistency proofs equal PROOF(m, D[n]) for all 0 <= m <= n <= 64, at tile edges and at random', () => {
    for (let n = 0; n <= 64; n++) for (let m = 0; m <= n; m++) checkConsistency(m, n)
    for (const n of EDGES) for (const m of EDGES.filter((m) => m <= n)) checkConsistency(m, n)
    fc.assert(fc.property(sizeArb, sizeArb, (x, y) => checkConsistency(Math.min(x, y), Math.max(x, y))), { numRuns: 300 })
  })

  it('roots and inclusion proofs equal MTH and PATH for all leaves up to 64, at tile edges and at random', () => {
    const checkRoot = (n: number) => {
      expect(fromTiles(rootPlan(n), n, mthNode)).toEqual([reference.mth(0, n)])
    }
    for (const n of [...Array.from({ length: 64 }, (_, i) => i + 1), ...EDGES.filter((n) => n > 0)]) checkRoot(n)
    fc.assert(fc.property(fc.integer({ min: 1, max: LEAVES }), checkRoot), { numRuns: 100 })
    for (let n = 1; n <= 64; n++) for (let index = 0; index < n; index++) checkInclusion(index, n)
    for (const n of EDGES) for (const index of EDGES.filter((index) => index < n)) checkInclusion(index, n)
    fc.assert(fc.property(sizeArb.filter((n) => n > 0), fc.nat(), (n, a) => checkInclusion(a % n, n)), { numRuns: 300 })
  })

  it('lists each tile once, at the width the log publishes at that size', () => {
    expect(planTiles(consistencyPlan(10, 70_000), 70_000)).toEqual([
      { level: 0, index: 0, width: 256 }, { level: 1, index: 0, width: 256 }, { level: 1, index: 1, width: 17 },
      { level: 0, index: 273, width: 112 }])
    expect(planTiles(consistencyPlan(10, 70_000), 80_000)).toContainEqual({ level: 1, index: 1, width: 56 })
    expect(planTiles(rootPlan(256), 256)).toEqual([{ level: 1, index: 0, width: 1 }])
    expect(planTiles(consistencyPlan(0, 5), 5)).toEqual([])
  })
})

// Past 256^2 leaves a tree has nodes in level-2 tiles, the highest level below 256^3 leaves.
describe('proofs from hash tiles at random sizes up to 200,000', () => {
  const size = 200_000
  const tree = new MemoryTree(hasher)
  beforeAll(() => {
    const leaves = testLeafHashes(size, hasher)
    for (let i = 0; i < size; i += 4096) tree.appendMany(leaves.slice(i, i + 4096))
  })
  const nodeHash = (level: number, index: number) => tree.nodeHash({ level, index })

  it('consistency and inclusion proofs equal the tree\'s own, and verify', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: size }), fc.nat(), fc.nat(), (n, a, b) => {
      const m = a % (n + 1)
      const index = b % n
      const consistency = fromTiles(consistencyPlan(m, n), n, nodeHash)
      expect(hex(consistency)).toBe(hex(tree.consistencyProof(m, n)))
      verifyConsistency(m, n, consistency, tree.root(m), tree.root(n), hasher)
      const inclusion = fromTiles(inclusionPlan(index, n), n, nodeHash)
      verifyInclusion(index, n, tree.nodeHash({ level: 0, index }), inclusion, tree.root(n), hasher)
      if (m > 0) expect(fromTiles(rootPlan(m), n, nodeHash)).toEqual([tree.root(m)])
    }), { numRuns: 300 })
  })
})

describe('proofs from hash tiles far past 2^32', () => {
  // Even leaves hash to A, odd ones to B, so each level has one node hash (see merkle.suite.ts).
  const even = hasher.leaf(new Uint8Array([1]))
  const odd = hasher.leaf(new Uint8Array([2]))
  const perfect = [hasher.node(even, odd)]
  for (let h = 2; h <= 53; h++) perfect.push(hasher.node(perfect.at(-1)!, perfect.at(-1)!))
  const nodeHash = (level: number, index: number) => (level === 0 ? (index % 2 === 0 ? even : odd) : perfect[level - 1]!)
  const rootOf = (size: number) => assembleProof(rootPlan(size), ({ level, index }) => nodeHash(level, index), hasher)[0]!
  const big = fc.oneof(fc.integer({ min: 2 ** 40, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(2 ** 40, 2 ** 53 - 1, 2 ** 52 + 2 ** 32 + 7))

  it('consistency proofs verify', () => {
    fc.assert(fc.property(big, big, (x, y) => {
      const [m, n] = x <= y ? [x, y] : [y, x]
      verifyConsistency(m, n, fromTiles(consistencyPlan(m, n), n, nodeHash), rootOf(m), rootOf(n), hasher)
    }), { numRuns: 50 })
  })
})

describe('bad tiles', () => {
  const tree = new MemoryTree(hasher)
  tree.appendMany(testLeafHashes(1000, hasher))
  const plan = consistencyPlan(300, 1000)
  const tiles = planTiles(plan, 1000)
  const good = tileSource((level, index) => tree.nodeHash({ level, index }), tiles)

  it('refuses a tile of any other length, and a missing one', () => {
    fc.assert(fc.property(fc.nat({ max: tiles.length - 1 }), fc.integer({ min: -64, max: 64 }), (which, delta) => {
      if (delta === 0) return
      const bad: TileLookup = (tile) => {
        const bytes = good(tile)!
        if (tile.level !== tiles[which]!.level || tile.index !== tiles[which]!.index) return bytes
        return delta < 0 ? bytes.subarray(0, Math.max(0, bytes.length + delta)) : concatBytes(bytes, new Uint8Array(delta))
      }
      expect(() => proofFromTiles(plan, 1000, bad, hasher)).toThrow(code('TILE_MALFORMED'))
    }), { numRuns: 100 })
    expect(() => proofFromTiles(plan, 1000, () => undefined, hasher)).toThrow(code('TILE_NOT_FOUND'))
  })

  it('gives a proof that does not verify from a tile with a changed hash', () => {
    // Half the changes hit a hash the proof or the old root is computed from, so the branch
    // that checks something runs often; the rest may land anywhere in the tiles.
    const used = [...planNodes(plan), ...planNodes(rootPlan(300))].flatMap((node) => {
      const { tileLevel, tileIndex, row, position } = nodeLocation(node)
      return Array.from({ length: 2 ** row }, (_, i) => ({ level: tileLevel, index: tileIndex, hash: position * 2 ** row + i }))
    })
    const anywhere = fc.constantFrom(...tiles).chain((tile) =>
      fc.nat({ max: tile.width - 1 }).map((hash) => ({ level: tile.level, index: tile.index, hash })))
    const runs = 200
    let changed = 0
    fc.assert(fc.property(fc.oneof(fc.constantFrom(...used), anywhere), fc.nat({ max: HASH_SIZE * 8 - 1 }), (target, bit) => {
      const bad: TileLookup = (tile) => {
        const bytes = good(tile)!.slice()
        if (tile.level === target.level && tile.index === target.index) bytes[target.hash * HASH_SIZE + (bit >> 3)]! ^= 1 << (bit & 7)
        return bytes
      }
      const proof = proofFromTiles(plan, 1000, bad, hasher)
      const oldRoot = proofFromTiles(rootPlan(300), 1000, bad, hasher)[0]!
      // Either the tampered hash is not used (the proof is right) or the proof fails.
      const ok = hex(proof) === hex(tree.consistencyProof(300, 1000)) && bytesToHex(oldRoot) === bytesToHex(tree.root(300))
      if (!ok) {
        changed++
        expect(() => verifyConsistency(300, 1000, proof, oldRoot, tree.root(1000), hasher)).toThrow(code('PROOF_ROOT_MISMATCH'))
      }
    }), { numRuns: runs })
    expect(changed, 'runs whose tampered hash reached the proof').toBeGreaterThanOrEqual(runs * 0.2)
  })

  it('refuses nodes beyond the tree', () => {
    expect(() => planTiles(consistencyPlan(10, 1000), 999)).toThrow(code('SIZE_OUT_OF_RANGE'))
    expect(() => nodeFromTiles({ level: 3, index: 125 }, 1000, good, hasher)).toThrow(code('SIZE_OUT_OF_RANGE'))
    const any = tileSource((level, index) => tree.nodeHash({ level, index }))
    expect(nodeFromTiles({ level: 3, index: 124 }, 1000, any, hasher)).toEqual(tree.nodeHash({ level: 3, index: 124 }))
  })
})

import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { defaultHasher } from './hash.js'
import { bytesToHex, concatBytes } from './hex.js'
import { MemoryTree } from './memory.js'
import { type ProofPlan, assembleProof, consistencyPlan, inclusionPlan, rootPlan } from './proof.js'
import { ReferenceTree, testLeafHashes } from './testing/reference.js'
import { nodeFromTiles, planTiles, proofFromTiles, type TileLookup } from './tileproof.js'
import { TILE_WIDTH, type TileId } from './tiles.js'
import { verifyConsistency, verifyInclusion } from './verify.js'

const hasher = defaultHasher
const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })
const hex = (hashes: readonly Uint8Array[]) => hashes.map(bytesToHex).join(',')

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
  const leaves = testLeafHashes(600, hasher)
  const reference = new ReferenceTree(leaves, hasher)
  // C2SP tlog-tiles: tile hash i of tile N at level L is MTH of 256^L leaves from (256N + i) * 256^L.
  const nodes = new Map<string, Uint8Array>()
  const mthNode = (level: number, index: number) => {
    const key = `${level}/${index}`
    let hash = nodes.get(key)
    if (hash === undefined) nodes.set(key, hash = reference.mth(index * 2 ** level, (index + 1) * 2 ** level))
    return hash
  }

  // Every pair up to 80, and past it every size with a stride of old sizes (all of them where
  // level-1 tiles start, 255..257, and at 300): the oracle is slow, and tile boundaries are
  // what the exhaustive part is for.
  it('consistency proofs for 0 <= m <= n <= 300 equal PROOF(m, D[n])', () => {
    for (let n = 0; n <= 300; n++) {
      const stride = n <= 80 || (n >= 255 && n <= 257) || n === 300 ? 1 : 2 + (n % 5)
      for (let m = 0; m <= n; m += m === n ? 1 : Math.min(stride, n - m)) {
        const proof = fromTiles(consistencyPlan(m, n), n, mthNode)
        expect(hex(proof)).toBe(hex(reference.consistency(m, n)))
        verifyConsistency(m, n, proof, reference.mth(0, m), reference.mth(0, n), hasher)
      }
    }
  })

  it('every inclusion proof and root for sizes 1..300 equals PATH and MTH', () => {
    for (let n = 1; n <= 300; n++) {
      expect(fromTiles(rootPlan(n), n, mthNode)).toEqual([reference.mth(0, n)])
      for (let index = 0; index < n; index += 1 + (n % 7)) {
        expect(hex(fromTiles(inclusionPlan(index, n), n, mthNode))).toBe(hex(reference.path(index, 0, n)))
      }
    }
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

describe('proofs from hash tiles at random sizes up to 2^20', () => {
  const size = 2 ** 20
  const tree = new MemoryTree(hasher)
  beforeAll(() => {
    const leaves = testLeafHashes(size, hasher)
    for (let i = 0; i < size; i += 4096) tree.appendMany(leaves.slice(i, i + 4096))
  }, 120_000)
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
    fc.assert(fc.property(fc.nat({ max: tiles.length - 1 }), fc.nat(), (which, seed) => {
      const target = tiles[which]!
      const bad: TileLookup = (tile) => {
        const bytes = good(tile)!.slice()
        if (tile.level === target.level && tile.index === target.index) bytes[seed % bytes.length]! ^= 1 << (seed % 8)
        return bytes
      }
      const proof = proofFromTiles(plan, 1000, bad, hasher)
      const oldRoot = proofFromTiles(rootPlan(300), 1000, bad, hasher)[0]!
      // Either the tampered hash is not used (the proof is right) or the proof fails.
      const ok = hex(proof) === hex(tree.consistencyProof(300, 1000)) && bytesToHex(oldRoot) === bytesToHex(tree.root(300))
      if (!ok) expect(() => verifyConsistency(300, 1000, proof, oldRoot, tree.root(1000), hasher)).toThrow(code('PROOF_ROOT_MISMATCH'))
    }), { numRuns: 100 })
  })

  it('refuses nodes beyond the tree', () => {
    expect(() => planTiles(consistencyPlan(10, 1000), 999)).toThrow(code('SIZE_OUT_OF_RANGE'))
    expect(() => nodeFromTiles({ level: 3, index: 125 }, 1000, good, hasher)).toThrow(code('SIZE_OUT_OF_RANGE'))
    const any = tileSource((level, index) => tree.nodeHash({ level, index }))
    expect(nodeFromTiles({ level: 3, index: 124 }, 1000, any, hasher)).toEqual(tree.nodeHash({ level: 3, index: 124 }))
  })
})

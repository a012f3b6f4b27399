import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TreeEdge, type StoredTile } from '../edge.js'
import type { MerkleHasher } from '../hash.js'
import { bytesEqual } from '../verify.js'
import { MemoryTree } from '../memory.js'
import { TILE_WIDTH, decodeStoredTile, hashTileBytes, partialTileWidth } from '../tiles.js'
import { ReferenceTree, testLeafHashes, uint64 } from './reference.js'

/** The tiled layout against the C2SP tlog-tiles definition of a tile's contents. */
export function tilesSuite(hasher: MerkleHasher): void {
  describe(`tiles and the tree edge (${hasher.provider.name})`, () => {
    // C2SP tlog-tiles' worked example: a tree of 70,000 leaves.
    const size = 70_000
    const leaves = testLeafHashes(size, hasher)
    const reference = new ReferenceTree(leaves, hasher)
    const stored = new Map<string, StoredTile>()
    let edge = TreeEdge.empty()
    for (let i = 0; i < size; i += 997) {
      const integration = edge.integrate(leaves.slice(i, i + 997), hasher)
      for (const tile of [...integration.fullTiles, ...integration.edge.storedTiles()]) {
        stored.set(`${tile.level}/${tile.index}`, tile)
      }
      edge = integration.edge
    }

    it('has the tiles the spec lists for 70,000 leaves', () => {
      const full = (level: number) => [...stored.values()].filter((t) => t.level === level && t.width === TILE_WIDTH).length
      expect(full(0)).toBe(273)
      expect(full(1)).toBe(1)
      expect([0, 1, 2].map((level) => partialTileWidth(level, size))).toEqual([112, 17, 1])
      expect(TreeEdge.tilesToOpen(size)).toEqual([
        { level: 0, index: 273, width: 112 }, { level: 1, index: 1, width: 17 }, { level: 2, index: 0, width: 1 }])
      expect(TreeEdge.tilesToOpen(256)).toEqual([{ level: 1, index: 0, width: 1 }])
      expect(edge.root(hasher)).toEqual(reference.mth(0, size))
    })

    it('tile n at level l holds MTH(D[(256n + i) * 256^l : (256n + i + 1) * 256^l])', () => {
      for (const tile of stored.values()) {
        const span = TILE_WIDTH ** tile.level
        const bytes = hashTileBytes(tile.data, tile.width)
        expect(bytes.length).toBe(32 * tile.width)
        for (let i = 0; i < tile.width; i += tile.level === 0 ? 37 : 1) {
          const start = (tile.index * TILE_WIDTH + i) * span
          expect(bytes.subarray(32 * i, 32 * i + 32)).toEqual(reference.mth(start, start + span))
        }
      }
    })

    it('stored rows hold the inner nodes of each tile', () => {
      const tile = stored.get('0/5')!
      const rows = decodeStoredTile(tile.data)
      expect(rows.map((row) => row.length)).toEqual([256, 128, 64, 32, 16, 8, 4, 2])
      expect(rows[3]![7]).toEqual(reference.mth(5 * 256 + 7 * 8, 5 * 256 + 8 * 8))
    })

    it('reopening the edge at any stored size and appending gives the same tree', () => {
      fc.assert(fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 700 }), (from, count) => {
        const tree = new MemoryTree(hasher)
        const tiles = new Map<string, Uint8Array>()
        let before = TreeEdge.empty().integrate(leaves.slice(0, from), hasher)
        for (const t of [...before.fullTiles, ...before.edge.storedTiles()]) tiles.set(`${t.level}/${t.index}`, t.data)
        const reopened = TreeEdge.open(from, (t) => tiles.get(`${t.level}/${t.index}`))
        expect(reopened.root(hasher)).toEqual(before.root)
        const after = reopened.integrate(leaves.slice(from, from + count), hasher)
        tree.appendMany(leaves.slice(0, from + count))
        expect(after.root).toEqual(tree.root())
        expect(after.edge.size).toBe(from + count)
        before = after
      }), { numRuns: 60 })
    })

    it('integrate leaves the old edge untouched', () => {
      const base = TreeEdge.empty().integrate(leaves.slice(0, 300), hasher).edge
      const rootBefore = base.root(hasher)
      base.integrate(leaves.slice(300, 900), hasher)
      expect(base.root(hasher)).toEqual(rootBefore)
      expect(base.size).toBe(300)
    })

    it('any edge may be integrated again, in any order, and every edge and full tile keeps its hashes', () => {
      // A random tree of integrations: each step extends a random earlier edge (as a retry
      // after a failed write does) with fresh leaves; every edge made so far is checked each time.
      let fresh = 0
      const leafAt = () => hasher.leaf(uint64(2 ** 40 + fresh++))
      fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 12 }), (steps) => {
        const made = [{ edge: TreeEdge.empty(), leaves: [] as Uint8Array[], root: hasher.emptyRoot }]
        const tiles: { data: Uint8Array; copy: Uint8Array }[] = []
        for (const [pick, count] of steps) {
          const from = made[pick % made.length]!
          const added = Array.from({ length: count }, leafAt)
          const integration = from.edge.integrate(added, hasher)
          for (const tile of integration.fullTiles) tiles.push({ data: tile.data, copy: tile.data.slice() })
          const all = [...from.leaves, ...added]
          made.push({ edge: integration.edge, leaves: all, root: new ReferenceTree(all, hasher).mth(0, all.length) })
          for (const { edge, leaves, root } of made) {
            expect(edge.root(hasher)).toEqual(root)
            // The last leaf, unless it completed its tile (full tiles are not the edge's).
            if (leaves.length % TILE_WIDTH !== 0) expect(edge.nodeHash({ level: 0, index: leaves.length - 1 })).toEqual(leaves.at(-1))
          }
          expect(tiles.every((tile) => bytesEqual(tile.data, tile.copy))).toBe(true)
        }
      }), { numRuns: 30 })
    })

    it('refuses to open from a missing or too narrow tile', () => {
      expect(() => TreeEdge.open(10, () => undefined)).toThrow(expect.objectContaining({ code: 'TILE_MALFORMED' }))
      const narrow = TreeEdge.empty().integrate(leaves.slice(0, 5), hasher).edge.storedTiles()[0]!.data
      expect(() => TreeEdge.open(10, () => narrow)).toThrow(expect.objectContaining({ code: 'TILE_MALFORMED' }))
    })
  })
}

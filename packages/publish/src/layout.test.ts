import fc from 'fast-check'
import { TILE_WIDTH, type TileResource } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { filledTiles, partialTiles, tilePath } from './layout.js'

/** Every full tile and bundle of a tree of `size`, counted from the definition: tile (l, n) covers 256^(l+1) leaves. */
function fullTiles(size: number): Set<string> {
  const paths = new Set<string>()
  for (let n = 0; n < Math.floor(size / TILE_WIDTH); n++) paths.add(tilePath({ kind: 'entries', index: n, width: TILE_WIDTH }))
  for (let level = 0; TILE_WIDTH ** (level + 1) <= size; level++) {
    for (let n = 0; n < Math.floor(size / TILE_WIDTH ** (level + 1)); n++) paths.add(tilePath({ kind: 'hash', level, index: n, width: TILE_WIDTH }))
  }
  return paths
}

const paths = (tiles: Iterable<TileResource>) => [...tiles].map(tilePath)

describe('filledTiles', () => {
  it('yields exactly the full tiles the larger tree has and the smaller lacks, once each', () => {
    const boundary = fc.integer({ min: 0, max: 3 * TILE_WIDTH }).map((n) => n * TILE_WIDTH)
    fc.assert(fc.property(boundary, boundary, (a, b) => {
      const [from, to] = a <= b ? [a, b] : [b, a]
      const filled = paths(filledTiles(from, to))
      const before = fullTiles(from)
      const expected = [...fullTiles(to)].filter((path) => !before.has(path))
      expect(new Set(filled).size).toBe(filled.length)
      expect(new Set(filled)).toEqual(new Set(expected))
    }), { numRuns: 60 })
  })

  it('puts each tile after the tiles below it that it covers', () => {
    expect(paths(filledTiles(255 * TILE_WIDTH, 257 * TILE_WIDTH))).toEqual([
      'tile/entries/255', 'tile/0/255', 'tile/1/000', 'tile/entries/256', 'tile/0/256',
    ])
    const level2 = TILE_WIDTH ** 3
    expect(paths(filledTiles(level2 - TILE_WIDTH, level2))).toEqual([
      'tile/entries/x065/535', 'tile/0/x065/535', 'tile/1/255', 'tile/2/000',
    ])
  })

  it('refuses sizes that are not tile boundaries, or out of order', () => {
    expect(() => [...filledTiles(1, 256)]).toThrow(RangeError)
    expect(() => [...filledTiles(512, 256)]).toThrow(RangeError)
  })
})

describe('partialTiles', () => {
  it('lists the right edge of every level and the partial bundle', () => {
    expect(paths(partialTiles(0))).toEqual([])
    expect(paths(partialTiles(1))).toEqual(['tile/entries/000.p/1', 'tile/0/000.p/1'])
    expect(paths(partialTiles(256))).toEqual(['tile/1/000.p/1'])
    expect(paths(partialTiles(300))).toEqual(['tile/entries/001.p/44', 'tile/0/001.p/44', 'tile/1/000.p/1'])
    expect(paths(partialTiles(TILE_WIDTH ** 2))).toEqual(['tile/2/000.p/1'])
    expect(paths(partialTiles(TILE_WIDTH ** 2 + TILE_WIDTH + 1))).toEqual([
      'tile/entries/257.p/1', 'tile/0/257.p/1', 'tile/1/001.p/1', 'tile/2/000.p/1',
    ])
  })

  it('reaches the top level of the largest tree', () => {
    const top = partialTiles(Number.MAX_SAFE_INTEGER).at(-1)
    expect(top).toEqual({ kind: 'hash', level: 6, index: 0, width: 31 })
  })

  it('refuses a size that is no safe count', () => {
    expect(() => partialTiles(-1)).toThrow(RangeError)
    expect(() => partialTiles(1.5)).toThrow(RangeError)
  })
})

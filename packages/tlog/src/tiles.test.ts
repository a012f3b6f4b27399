import { describe, expect, it } from 'vitest'
import {
  decodeEntryBundle, encodeEntryBundle, encodeTileIndex, entryBundlePath, hashTilePath, nodeLocation,
  parseTilePath, storedTileHashCount, storedTileWidth,
} from './tiles.js'

const code = (code: string) => expect.objectContaining({ name: 'TlogError', code })

describe('C2SP tlog-tiles paths', () => {
  it('encodes indexes as the spec example does', () => {
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067')
    expect(encodeTileIndex(0)).toBe('000')
    expect(encodeTileIndex(999)).toBe('999')
    expect(encodeTileIndex(1000)).toBe('x001/000')
    expect(encodeTileIndex(2 ** 53 - 1)).toBe('x009/x007/x199/x254/x740/991')
  })

  it('writes full and partial hash tiles and entry bundles', () => {
    expect(hashTilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067')
    expect(hashTilePath({ level: 2, index: 5, width: 17 })).toBe('tile/2/005.p/17')
    expect(entryBundlePath(273, 112)).toBe('tile/entries/273.p/112')
    expect(() => hashTilePath({ level: 64, index: 0, width: 256 })).toThrow(RangeError)
    expect(() => hashTilePath({ level: 0, index: 0, width: 0 })).toThrow(RangeError)
  })

  it('parses what it writes', () => {
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ kind: 'hash', level: 0, index: 1234067, width: 256 })
    expect(parseTilePath('tile/63/000.p/255')).toEqual({ kind: 'hash', level: 63, index: 0, width: 255 })
    expect(parseTilePath('tile/entries/x009/x007/x199/x254/x740/991.p/1'))
      .toEqual({ kind: 'entries', index: 2 ** 53 - 1, width: 1 })
  })

  it.each([
    'tile/00/000', 'tile/64/000', 'tile/0/00', 'tile/0/0000', 'tile/0/x000/123', 'tile/0/001/234',
    'tile/0/000.p/0', 'tile/0/000.p/256', 'tile/0/000.p/07', 'tile/0/000.p/', 'tile/0/x1/000',
    '/tile/0/000', 'tile/0/000/', 'tile/-1/000', 'tile/entries/000.p/300', 'tile/0/X001/000',
    'tile/0/x009/x007/x199/x254/x740/992', 'tile/0/x001/x001/x001/x001/x001/x001/000', 'tile/0/000 ',
  ])('rejects %j', (path) => {
    expect(() => parseTilePath(path)).toThrow(code('TILE_PATH_MALFORMED'))
  })
})

describe('stored tile layout', () => {
  it('counts the inner rows', () => {
    expect(storedTileHashCount(256)).toBe(510)
    expect(storedTileHashCount(1)).toBe(1)
    expect(storedTileHashCount(3)).toBe(4)
    expect(storedTileWidth(new Uint8Array(510 * 32))).toBe(256)
    expect(() => storedTileWidth(new Uint8Array(2 * 32))).toThrow(code('TILE_MALFORMED'))
    expect(() => storedTileWidth(new Uint8Array(33))).toThrow(code('TILE_MALFORMED'))
  })

  it('locates nodes', () => {
    expect(nodeLocation({ level: 0, index: 513 })).toEqual({ tileLevel: 0, tileIndex: 2, row: 0, position: 1 })
    expect(nodeLocation({ level: 7, index: 5 })).toEqual({ tileLevel: 0, tileIndex: 2, row: 7, position: 1 })
    expect(nodeLocation({ level: 8, index: 300 })).toEqual({ tileLevel: 1, tileIndex: 1, row: 0, position: 44 })
    expect(nodeLocation({ level: 50, index: 3 })).toEqual({ tileLevel: 6, tileIndex: 0, row: 2, position: 3 })
  })
})

describe('entry bundles', () => {
  it('round-trips big-endian uint16 length-prefixed entries', () => {
    const entries = [new Uint8Array([1]), new Uint8Array(300).fill(9), new Uint8Array(65535).fill(2)]
    const bundle = encodeEntryBundle(entries)
    expect([...bundle.subarray(0, 3)]).toEqual([0, 1, 1])
    expect([...bundle.subarray(3, 5)]).toEqual([1, 44])
    expect(decodeEntryBundle(bundle)).toEqual(entries)
  })

  it('rejects truncation and overfull bundles', () => {
    expect(() => decodeEntryBundle(new Uint8Array([0, 5, 1]))).toThrow(code('TILE_MALFORMED'))
    expect(() => decodeEntryBundle(new Uint8Array([0]))).toThrow(code('TILE_MALFORMED'))
    const overfull = encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array([1])))
    expect(() => decodeEntryBundle(overfull)).toThrow(code('TILE_MALFORMED'))
    expect(() => encodeEntryBundle([new Uint8Array(0)])).toThrow(RangeError)
    expect(() => encodeEntryBundle([new Uint8Array(65536)])).toThrow(RangeError)
  })
})

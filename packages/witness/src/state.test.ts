import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { decodeState, encodeState, originHash, stateKey, type WitnessState } from './state.js'
import { TestLog } from './testing/log.js'
import { isWitnessError } from './errors.js'

const log = new TestLog('example.com/state-log')
log.append(9)
const state: WitnessState = { size: 9, rootHash: log.tree.root(9), note: log.checkpoint(9) }
const utf8 = new TextEncoder()

function corruption(bytes: Uint8Array): boolean {
  try {
    decodeState(bytes)
    return false
  } catch (error) {
    return isWitnessError(error, 'CORRUPTION')
  }
}

describe('witness state', () => {
  it('round-trips', () => {
    expect(decodeState(encodeState(state))).toEqual(state)
  })

  it('refuses stored state that is corrupt or disagrees with its checkpoint', () => {
    const json = (value: unknown): Uint8Array => utf8.encode(JSON.stringify(value))
    const root = btoa(String.fromCharCode(...state.rootHash))
    expect(corruption(utf8.encode('not json'))).toBe(true)
    expect(corruption(new Uint8Array([0xff]))).toBe(true)
    expect(corruption(json(null))).toBe(true)
    expect(corruption(json({ size: 9, root, note: 'x' }))).toBe(true)
    expect(corruption(json({ size: 8, root, note: state.note }))).toBe(true)
    expect(corruption(json({ size: '9', root, note: state.note }))).toBe(true)
    expect(corruption(json({ size: 9, root: btoa(String.fromCharCode(...log.tree.root(8))), note: state.note }))).toBe(true)
    expect(corruption(json({ size: 9, root: root.slice(1), note: state.note }))).toBe(true)
    expect(corruption(json({ size: 9, root, note: state.note }))).toBe(false)
  })

  it('names origins by the lowercase hex SHA-256 of the origin line', () => {
    const expected = createHash('sha256').update('example.com/state-log').digest('hex')
    expect(originHash('example.com/state-log')).toBe(expected)
    expect(Buffer.from(stateKey('example.com/state-log')).toString('hex')).toBe(`57${expected}`)
  })
})

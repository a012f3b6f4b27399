import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'

const json = fc.jsonValue({ noUnicodeString: false })

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item) => shuffleKeys(item, seed))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value as Record<string, unknown>)
  const rotated = entries.slice(seed % Math.max(entries.length, 1)).concat(entries.slice(0, seed % Math.max(entries.length, 1)))
  return Object.fromEntries(rotated.reverse().map(([key, item]) => [key, shuffleKeys(item, seed)]))
}

describe('canonicalJson properties', () => {
  it('parses back to an equal value and is a fixed point', () => {
    fc.assert(fc.property(json, (value) => {
      const text = canonicalJson(value)
      expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)))
      expect(canonicalJson(JSON.parse(text))).toBe(text)
    }))
  })

  it('does not depend on member order', () => {
    fc.assert(fc.property(json, fc.nat(), (value, seed) => {
      expect(canonicalJson(shuffleKeys(value, seed))).toBe(canonicalJson(value))
    }))
  })
})

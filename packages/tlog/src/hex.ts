import { TlogError } from './errors.js'

const HEX_CODES = new TextEncoder().encode('0123456789abcdef')
const latin1 = new TextDecoder('latin1')

/** Lowercase hex, as Annal writes entry ids and hashes. */
export function bytesToHex(bytes: Uint8Array): string {
  // One ASCII buffer and one decode: concatenating two-digit strings makes a string per byte.
  const out = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = HEX_CODES[bytes[i]! >> 4]!
    out[2 * i + 1] = HEX_CODES[bytes[i]! & 15]!
  }
  return latin1.decode(out)
}

/**
 * Decodes lowercase hex of an even length.
 * @throws TlogError HASH_MALFORMED on anything else.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new TlogError('HASH_MALFORMED', 'not lowercase hex')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** The bytes of `parts`, one after another, in a new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

// Byte helpers on Uint8Array only (no Buffer), so the package runs in browsers.
export { bytesEqual, concatBytes } from '@annal/tlog'

const encoder = new TextEncoder()
// fatal: invalid UTF-8 throws instead of becoming U+FFFD; ignoreBOM: a leading BOM stays in the text.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** UTF-8 bytes of a well-formed string (callers reject lone surrogates first). */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text)
}

/** The string for valid UTF-8, or undefined for anything else. */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

/** True when `text` holds an unpaired surrogate, which has no UTF-8 encoding. */
export function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text)
}


/** Big-endian uint32 at `offset`; requires offset + 4 <= bytes.length. */
export function readUint32(bytes: Uint8Array, offset = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false)
}

/** Four big-endian bytes of a uint32. */
export function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value, false)
  return out
}

/** Big-endian uint64 at `offset` as a bigint; requires offset + 8 <= bytes.length. */
export function readUint64(bytes: Uint8Array, offset = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false)
}

/** Eight big-endian bytes of a safe non-negative integer. */
export function uint64Bytes(value: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(value), false)
  return out
}

/** A uint32 as exactly 8 lowercase hex digits. */
export function hex32(value: number): string {
  return value.toString(16).padStart(8, '0')
}

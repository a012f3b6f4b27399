// Standard base64 (RFC 4648 §4) with padding, accepting only the canonical spelling.

import { HASH_SIZE } from '@annal/tlog'

const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const CHUNK = 0x8000

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK))
  }
  return btoa(binary)
}

/**
 * Decodes canonical standard base64, or returns undefined. atob is lenient (it skips
 * whitespace, allows missing padding and ignores non-zero trailing bits), so the text is
 * matched against the strict pattern first and the result re-encoded and compared.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!CANONICAL.test(text)) return undefined
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return encodeBase64(bytes) === text ? bytes : undefined
}

/** The 32 bytes of a hash in canonical base64 (as checkpoints and tlog-witness write them), or undefined. */
export function decodeBase64Hash(text: string): Uint8Array | undefined {
  const bytes = decodeBase64(text)
  return bytes?.length === HASH_SIZE ? bytes : undefined
}

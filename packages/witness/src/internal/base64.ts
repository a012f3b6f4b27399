// Standard base64 (RFC 4648 §4) of one 32-byte hash, accepting only the canonical spelling.

import { HASH_SIZE } from '@annal/tlog'

const HASH_BASE64 = /^[A-Za-z0-9+/]{43}=$/

export function encodeHash(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

/**
 * The 32 bytes of a canonical base64 hash, or undefined. atob is lenient (whitespace, missing
 * padding, non-zero trailing bits), so the text is matched first and the result re-encoded.
 */
export function decodeHash(text: string): Uint8Array | undefined {
  if (!HASH_BASE64.test(text)) return undefined
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes.length === HASH_SIZE && encodeHash(bytes) === text ? bytes : undefined
}

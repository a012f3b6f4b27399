import { ClientError, type ClientErrorCode } from '../errors.js'

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** UTF-8 text of a file given as bytes or a string; `code` if the bytes are not UTF-8. */
export function decodeText(input: string | Uint8Array, code: ClientErrorCode, what: string): string {
  if (typeof input === 'string') return input
  if (!(input instanceof Uint8Array)) throw new TypeError(`${what} must be a string or a Uint8Array`)
  try {
    return fatalUtf8.decode(input)
  } catch (error) {
    throw new ClientError(code, `${what} is not UTF-8`, { cause: error })
  }
}

const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/

/** ASCII decimal without sign or leading zeros, at most 2^53 - 1; undefined otherwise. */
export function parseDecimal(text: string): number | undefined {
  if (!CANONICAL_DECIMAL.test(text) || text.length > 16) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

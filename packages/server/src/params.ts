import { TlogError } from '@annal/tlog'
import { ApiError } from './errors.js'

const COUNT = /^(?:0|[1-9][0-9]{0,19})$/
const HASH = /^[0-9a-f]{64}$/

/**
 * A non-negative integer query parameter in its canonical decimal spelling; `fallback` when absent.
 * @throws REQUEST_MALFORMED; SIZE_OUT_OF_RANGE above 2^53 - 1.
 */
export function countParam(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback
  if (value === undefined) throw new ApiError('REQUEST_MALFORMED', `${name} is required`)
  if (!COUNT.test(value)) throw new ApiError('REQUEST_MALFORMED', `${name} is not a canonical decimal integer`)
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new TlogError('SIZE_OUT_OF_RANGE', `${name} is out of range`)
  return n
}

/** @throws TlogError HASH_MALFORMED unless 64 lowercase hex digits. */
export function hashParam(value: string, name: string): string {
  if (!HASH.test(value)) throw new TlogError('HASH_MALFORMED', `${name} is 64 lowercase hex digits`)
  return value
}

/**
 * An entry reference from a path: decimal digits (fewer than 16) name an index, anything else
 * an id or an id prefix (so an id prefix made only of digits needs 16 or more of them).
 */
export function entryRef(value: string): number | string {
  return /^(?:0|[1-9][0-9]{0,14})$/.test(value) ? Number(value) : value
}

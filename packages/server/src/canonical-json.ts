/**
 * RFC 8785 JSON Canonicalization Scheme (JCS) for the values JSON.parse returns (and plain
 * objects built the same way): object members sorted by their UTF-16 code units, numbers in
 * ECMAScript's shortest round-trip form (RFC 8785 §3.2.2.3), strings with the minimal JSON
 * escapes (§3.2.2.2). Properties whose value is `undefined` are left out, as JSON.stringify does.
 * @throws TypeError on non-finite numbers, lone surrogates (I-JSON, RFC 7493), and values
 *   that are not JSON (functions, bigints, symbols, class instances).
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return canonicalString(value)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('JSON has no NaN or Infinity')
      // ECMAScript Number::toString is the RFC 8785 number form; it writes -0 as 0.
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) return 'null'
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`
      return canonicalObject(value)
    default:
      throw new TypeError(`JSON has no ${typeof value}`)
  }
}

function canonicalObject(value: object): string {
  const prototype = Object.getPrototypeOf(value) as unknown
  if (prototype !== Object.prototype && prototype !== null) throw new TypeError('only plain objects are JSON')
  const record = value as Record<string, unknown>
  // Array.prototype.sort compares strings by UTF-16 code units, which is what §3.2.3 asks.
  const keys = Object.keys(record).filter((key) => record[key] !== undefined).sort()
  return `{${keys.map((key) => `${canonicalString(key)}:${canonicalJson(record[key])}`).join(',')}}`
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
/** Printable ASCII but `"` and `\\`: such a string is its own JSON text between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/

/** False when `text` has a lone surrogate, which canonicalString refuses (I-JSON, RFC 7493 §2.1). */
export function isWellFormed(text: string): boolean {
  return PLAIN.test(text) || !LONE_SURROGATE.test(text)
}

/** A string as RFC 8785 writes it (§3.2.2.2). @throws TypeError on a lone surrogate. */
export function canonicalString(text: string): string {
  // Most strings here are ids, hashes, times and scopes: they need neither the surrogate scan
  // nor JSON.stringify.
  if (PLAIN.test(text)) return `"${text}"`
  if (LONE_SURROGATE.test(text)) throw new TypeError('a JSON string has a lone surrogate')
  // JSON.stringify escapes exactly ", \, \b \f \n \r \t and other controls as \u00xx (lowercase).
  return JSON.stringify(text)
}

import { readFile } from 'node:fs/promises'
import type { JSONWebKeySet, JWK } from 'jose'
import { UsageError } from './failure.js'

/**
 * A JSON config file's top-level object, whose keys are all among `keys`.
 * @throws UsageError when it is unreadable or not an object, or for a key it does not know,
 *   naming the closest known key: a misspelt setting would otherwise go unnoticed.
 */
export async function readConfig(path: string, keys: readonly string[]): Promise<Record<string, unknown>> {
  const parsed = await readJsonFile(path, 'the config file')
  if (!isObject(parsed)) throw new UsageError(`${path} must hold a JSON object`)
  for (const key of Object.keys(parsed)) {
    if (keys.includes(key)) continue
    const near = closest(key, keys)
    throw new UsageError(`${path} has an unknown key ${JSON.stringify(key)}; ${near === undefined
      ? `the keys are ${keys.join(', ')}` : `did you mean ${JSON.stringify(near)}?`}`)
  }
  return parsed
}

/** The word of `words` fewest edits away from `word`, if it is near enough to be a misspelling. */
export function closest(word: string, words: readonly string[]): string | undefined {
  let best: { word: string; distance: number } | undefined
  for (const candidate of words) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (best === undefined || distance < best.distance) best = { word: candidate, distance }
  }
  // Near enough: at most a third of its letters wrong, and always one (`dta` for `data`).
  return best !== undefined && best.distance <= Math.max(1, Math.floor(word.length / 3)) ? best.word : undefined
}

/** Levenshtein distance, with one swap of neighbours counting as one edit (a typo as `dta`). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let distance = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = distance
    }
  }
  return rows[a.length]![b.length]!
}

/**
 * The public keys in a local JWKS file (RFC 7517 §5), read once: rotating them means a restart.
 * @throws UsageError when the file is unreadable, not a key set, empty, or holds private or secret keys.
 */
export async function readJwksFile(path: string): Promise<JSONWebKeySet> {
  const parsed = await readJsonFile(path, 'the JWKS file')
  const keys = isObject(parsed) ? parsed.keys : undefined
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((key) => isObject(key) && typeof key.kty === 'string')) {
    throw new UsageError(`${path} must hold a JSON Web Key Set, {"keys": [...]} with at least one key`)
  }
  // A private (d) or symmetric (k) key here is a leaked secret, and the server never signs.
  if (keys.some((key: Record<string, unknown>) => 'd' in key || 'k' in key)) {
    throw new UsageError(`${path} holds private or secret key material; give the issuer's public keys only`)
  }
  return { keys: keys as JWK[] }
}

async function readJsonFile(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as Error).message}`)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** A string setting from a config file, or undefined. @throws UsageError for another type. */
export function configString(config: Record<string, unknown>, name: string): string | undefined {
  const value = config[name]
  if (value === undefined || typeof value === 'string') return value
  throw new UsageError(`${name} in the config file must be a string`)
}

/** A list-of-strings setting from a config file, or undefined. @throws UsageError for another type. */
export function configStrings(config: Record<string, unknown>, name: string): string[] | undefined {
  const value = config[name]
  if (value === undefined) return undefined
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[]
  throw new UsageError(`${name} in the config file must be a list of strings`)
}

/**
 * `<verifier key>@<http(s) URL>` split at the '@' that starts the URL (a key's base64 has no
 * '@', and a name followed by '@http' is not a key); `url` is undefined when there is none.
 */
export function splitKeyUrl(text: string): { readonly verifierKey: string; readonly url: string | undefined } {
  const at = text.search(/@https?:\/\//)
  return at === -1 ? { verifierKey: text, url: undefined } : { verifierKey: text.slice(0, at), url: text.slice(at + 1) }
}

/**
 * The `scopeCeilings` setting: client_id → the Annal scopes its tokens are clamped to.
 * @throws UsageError unless it is an object of lists of strings.
 */
export function configCeilings(config: Record<string, unknown>): Record<string, string[]> | undefined {
  const value = config.scopeCeilings
  if (value === undefined) return undefined
  if (isObject(value) && Object.values(value).every((scopes) => Array.isArray(scopes) && scopes.every((scope) => typeof scope === 'string'))) {
    return value as Record<string, string[]>
  }
  throw new UsageError('scopeCeilings in the config file must map each client_id to a list of scopes')
}

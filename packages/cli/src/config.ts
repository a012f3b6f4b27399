import { readFile } from 'node:fs/promises'
import { UsageError } from './signals.js'

/** A JSON config file's top-level object. @throws UsageError when it is unreadable or not an object. */
export async function readConfig(path: string): Promise<Record<string, unknown>> {
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (error) {
    throw new UsageError(`cannot read the config file ${path}: ${(error as Error).message}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${path} must hold a JSON object`)
  return parsed as Record<string, unknown>
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

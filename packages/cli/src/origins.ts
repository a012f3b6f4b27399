// The first part of a server's new logs' checkpoint origins, `<prefix>/<log name>`: what names
// the deployment, so that two servers on one machine never make logs with one origin. Local
// ledgers have theirs from Context's localOriginPrefix.
import { checkOriginPrefix } from '@annal/store'
import { UsageError } from './failure.js'

/**
 * A server's origin prefix from its resource identifier (an http(s) URL): its host and path,
 * `https://annal.example.com/tenant-a/` → `annal.example.com/tenant-a`, as C2SP origins are
 * schema-less URLs.
 * @throws UsageError when that is no valid prefix, asking for --origin-prefix.
 */
export function audienceOriginPrefix(audience: string): string {
  const url = new URL(audience)
  return checkedOriginPrefix(`${url.host}${url.pathname.replace(/\/+$/, '')}`,
    `the origin prefix made from the audience ${audience}`, '; give --origin-prefix')
}

/** `prefix` when Ledger.open takes it. @throws UsageError naming `source` and the rule broken. */
export function checkedOriginPrefix(prefix: string, source: string, hint = ''): string {
  try {
    checkOriginPrefix(prefix)
  } catch (error) {
    if (!(error instanceof RangeError)) throw error
    throw new UsageError(`${source} is invalid: ${error.message}${hint}`)
  }
  return prefix
}

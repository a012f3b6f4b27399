// The dashboard's pages as URL fragments: `#/logs/audit/entries/3?x=y`.

export type RouteName = 'overview' | 'sign-in' | 'tail' | 'search' | 'entry' | 'alerts' | 'review' | 'activity' | 'unknown'

export interface Route {
  readonly name: RouteName
  /** Path parameters, decoded: the log name, then the entry index. */
  readonly args: string[]
  readonly params: URLSearchParams
}

const PATTERNS: readonly (readonly [RegExp, RouteName])[] = [
  [/^$/, 'overview'],
  [/^sign-in$/, 'sign-in'],
  [/^logs\/([^/]+)\/tail$/, 'tail'],
  [/^logs\/([^/]+)(?:\/search)?$/, 'search'],
  [/^logs\/([^/]+)\/entries\/([0-9]+|[0-9a-f]{4,64})$/, 'entry'],
  [/^alerts$/, 'alerts'],
  [/^review$/, 'review'],
  [/^activity$/, 'activity'],
]

/** The route a fragment names; undefined for a fragment that is no route (an in-page anchor). */
export function route(hash: string): Route | undefined {
  if (hash !== '' && hash !== '#' && !hash.startsWith('#/')) return undefined
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2)
  const params = new URLSearchParams(query)
  for (const [pattern, name] of PATTERNS) {
    const match = pattern.exec(path.replace(/\/$/, ''))
    if (match === null) continue
    try {
      return { name, args: match.slice(1).map((arg) => decodeURIComponent(arg)), params }
    } catch {
      break // a malformed escape
    }
  }
  return { name: 'unknown', args: [], params }
}

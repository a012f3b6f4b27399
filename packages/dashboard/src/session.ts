// The signed-in token, in session storage only: it goes when the tab closes, and no other tab,
// nor a later visit, sees it.

const TOKEN = 'annal.token'
const DEV_KEY = 'annal.dev-key'

export function token(): string | undefined {
  return sessionStorage.getItem(TOKEN) ?? undefined
}

export function signIn(value: string): void {
  sessionStorage.setItem(TOKEN, value)
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN)
}

/** The dev sign-in key of `annal serve --dev`'s link, once taken from the URL. */
export function devKey(): string | undefined {
  return sessionStorage.getItem(DEV_KEY) ?? undefined
}

/**
 * Takes the key from a `#dev-sign-in=<key>` link into session storage and out of the address bar
 * (and the history), so that it is not bookmarked or shared with the URL.
 * @returns whether the URL held one.
 */
export function takeDevKey(location: Location, history: History): boolean {
  const match = /^#dev-sign-in=([A-Za-z0-9_-]{32,})$/.exec(location.hash)
  if (match === null) return false
  sessionStorage.setItem(DEV_KEY, match[1]!)
  history.replaceState(null, '', `${location.pathname}${location.search}#/sign-in`)
  return true
}

/** What a token says of itself, unverified: for showing who is signed in, never for deciding anything. */
export interface TokenClaims {
  readonly sub?: string
  readonly client_id?: string
  readonly scope?: string
  readonly exp?: number
}

export function claimsOf(jwt: string): TokenClaims | undefined {
  const part = jwt.split('.')[1]
  if (part === undefined) return undefined
  try {
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/')
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)))
    const claims = JSON.parse(json) as unknown
    return typeof claims === 'object' && claims !== null ? claims as TokenClaims : undefined
  } catch {
    return undefined
  }
}

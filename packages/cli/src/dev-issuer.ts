import { randomUUID } from 'node:crypto'
import { open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AuthOptions } from '@annal/server'
import { type JWK, SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose'

/** The `iss` of dev tokens. */
export const DEV_ISSUER = 'urn:annal:dev-issuer'
/** The dev issuer's private key (a JWK, mode 0600) in a ledger directory. */
const KEY_FILE = 'dev-issuer.jwk'
/** Where the dev server of a ledger directory last listened: the audience of its tokens. */
const URL_FILE = 'dev-server.json'

/** A token issuer kept with a dev ledger, so that `annal dev token` mints what `annal serve --dev` accepts. */
export interface DevIssuer {
  /** What the server trusts: this issuer's public key, for `audience`. */
  auth(audience: string): AuthOptions
  /** An RFC 9068 access token. `ttl` as jose reads it ('1h', '30m'). */
  issue(token: { readonly audience: string; readonly scope: string; readonly subject: string; readonly ttl: string }): Promise<string>
}

/** The dev issuer of the ledger in `directory`, or undefined when `annal serve --dev` never made one there. */
export async function loadDevIssuer(directory: string): Promise<DevIssuer | undefined> {
  let text: string
  try {
    text = await readFile(join(directory, KEY_FILE), 'utf8')
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw error
  }
  return issuerOf(JSON.parse(text) as JWK)
}

/** The dev issuer of the ledger in `directory`, made (its key written with mode 0600) when missing. */
export async function ensureDevIssuer(directory: string): Promise<DevIssuer> {
  const found = await loadDevIssuer(directory)
  if (found !== undefined) return found
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256' }
  try {
    const file = await open(join(directory, KEY_FILE), 'wx', 0o600)
    try {
      await file.writeFile(`${JSON.stringify(jwk)}\n`)
    } finally {
      await file.close()
    }
  } catch (error) {
    // Another process made it first: use its key, which its tokens are signed with.
    if ((error as { code?: string }).code === 'EEXIST') return (await loadDevIssuer(directory))!
    throw error
  }
  return issuerOf(jwk)
}

async function issuerOf(jwk: JWK): Promise<DevIssuer> {
  const privateKey = await importJWK(jwk, 'ES256')
  const { d: _private, ...publicJwk } = jwk
  const kid = jwk.kid!
  return {
    auth: (audience) => ({ issuer: DEV_ISSUER, audience, jwks: { keys: [{ ...publicJwk, use: 'sig' }] } }),
    issue: ({ audience, scope, subject, ttl }) => new SignJWT({ scope, client_id: subject })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(DEV_ISSUER).setAudience(audience).setSubject(subject)
      .setIssuedAt().setExpirationTime(ttl).setJti(randomUUID())
      .sign(privateKey),
  }
}

/** Notes where the dev server of `directory` listens: its tokens' audience. */
export async function recordDevUrl(directory: string, url: string): Promise<void> {
  await writeFile(join(directory, URL_FILE), `${JSON.stringify({ url })}\n`)
}

/** Where the dev server of `directory` last listened, if it ever did. */
export async function readDevUrl(directory: string): Promise<string | undefined> {
  try {
    const { url } = JSON.parse(await readFile(join(directory, URL_FILE), 'utf8')) as { url?: unknown }
    return typeof url === 'string' ? url : undefined
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined
    throw error
  }
}

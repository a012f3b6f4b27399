import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StorageDriver } from '@annal/storage'
import { Ledger, type LedgerOptions } from '@annal/store'
import { type CryptoKey, type JSONWebKeySet, type JWK, SignJWT, exportJWK, generateKeyPair } from 'jose'
import { type AnnalApp, type AppOptions, appAlerts, createApp, endStreams, recordRefusal } from '../app.js'
import type { AuthOptions } from '../auth.js'
import { type RunningServer, serve } from '../serve.js'
import { TestAuthServer } from './auth-server.js'
import { expect } from 'vitest'

export const ISSUER = 'https://issuer.test'
export const AUDIENCE = 'https://annal.test/'

export interface SigningKey {
  readonly alg: 'RS256' | 'ES256' | 'EdDSA'
  readonly kid: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

export async function signingKey(alg: SigningKey['alg']): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) })
  const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } }
}

export function jwksOf(...keys: readonly SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => key.publicJwk) }
}

export interface MintOptions {
  readonly scope?: string
  readonly claims?: Record<string, unknown>
  /** Claims to leave out. */
  readonly omit?: readonly string[]
  readonly header?: Record<string, unknown>
  readonly key?: SigningKey
  /** Seconds from now. */
  readonly expiresIn?: number
}

/** Signs RFC 9068 access tokens with real keys, issued at `clock`'s time (the app's, in a test that moves time). */
export class Mint {
  readonly key: SigningKey
  readonly issuer: string
  readonly audience: string
  readonly clock: () => Date

  constructor(key: SigningKey, issuer = ISSUER, audience = AUDIENCE, clock = () => new Date()) {
    this.key = key
    this.issuer = issuer
    this.audience = audience
    this.clock = clock
  }

  async token(options: MintOptions = {}): Promise<string> {
    const key = options.key ?? this.key
    const now = Math.floor(this.clock().getTime() / 1000)
    const claims: Record<string, unknown> = {
      iss: this.issuer, aud: this.audience, sub: 'user-1', client_id: 'client-1', jti: randomUUID(),
      iat: now, exp: now + (options.expiresIn ?? 600), ...(options.scope === undefined ? {} : { scope: options.scope }),
      ...options.claims,
    }
    for (const name of options.omit ?? []) delete claims[name]
    return this.signed({ typ: 'at+jwt', ...options.header }, claims, key)
  }

  /** Signs exactly `claims`, under a header of the key's alg and kid and `header`. */
  async signed(header: Record<string, unknown>, claims: Record<string, unknown>, key = this.key): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as { alg: string }).sign(key.privateKey)
  }
}

export interface Harness {
  readonly ledger: Ledger
  readonly app: AnnalApp
  readonly mint: Mint
  readonly keys: readonly SigningKey[]
  readonly directory: string
  close(): Promise<void>
}

/** A ledger in a temp dir, keys for RS256, ES256 and EdDSA, and the app trusting them. */
export async function harness(options: { auth?: Partial<AuthOptions>; app?: Partial<AppOptions> } = {}): Promise<Harness> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-server-'))
  const ledger = await Ledger.open(directory, { originPrefix: 'annal.test' })
  const keys = await Promise.all((['RS256', 'ES256', 'EdDSA'] as const).map(signingKey))
  const app = await createApp({
    ledger,
    auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...keys), ...options.auth },
    ...options.app,
  })
  return {
    ledger, app, mint: new Mint(keys[0]!), keys, directory,
    close: async () => {
      await appAlerts(app).close()
      await ledger.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` }
}

const utf8 = new TextDecoder()

/** The access log's records, parsed. */
export async function accessRecords(ledger: Ledger): Promise<Record<string, any>[]> {
  const log = ledger.log('access')
  const entries = await log.entries(0, log.size)
  return entries.map((entry) => JSON.parse(utf8.decode(entry.data)) as Record<string, any>)
}

/** The access record of the response's request. */
export async function recordOf(ledger: Ledger, response: Response): Promise<Record<string, any> | undefined> {
  const id = response.headers.get('x-request-id')
  return (await accessRecords(ledger)).find((record) => record.request_id === id)
}

export interface LiveHarness {
  readonly ledger: Ledger
  readonly app: AnnalApp
  /** The ledger's directory. */
  readonly directory: string
  /** The app served on 127.0.0.1 on an ephemeral port. */
  readonly server: RunningServer
  /** The test authorization server whose JWKS (all of `keys`) the app fetches over HTTP. */
  readonly authServer: TestAuthServer
  /** This server's resource identifier: its own URL, so the challenge's resource_metadata resolves. */
  readonly audience: string
  readonly mint: Mint
  readonly keys: readonly SigningKey[]
  /** A token with audit:read, signed with the last key, good for an hour. */
  readonly auditor: string
  url(path: string): string
  /** Closes the ledger, opens it again and serves a new app over it, on the same URL: a restart. */
  restart(): Promise<void>
  close(): Promise<void>
}

/**
 * A ledger in a temp dir and the app over it, served with `serve()` on 127.0.0.1 port 0, trusting
 * the JWKS a TestAuthServer serves over HTTP. `keys` default to fresh RS256, ES256 and EdDSA keys.
 * With `app.clock`, the mint issues its tokens at that clock's time.
 */
export async function liveHarness(options: {
  auth?: Partial<AuthOptions>; app?: Partial<AppOptions>; keys?: readonly SigningKey[]
  /**
   * Opens the ledger's driver in the ledger's directory (LedgerOptions.driver: called again to
   * reopen it after a write fault), and the ledger's waits between recovery attempts.
   */
  driver?: (directory: string) => Promise<StorageDriver>
  recovery?: LedgerOptions['recovery']
} = {}): Promise<LiveHarness> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-server-live-'))
  const open = options.driver
  let ledger = await Ledger.open(directory, {
    originPrefix: 'annal.test', driver: open === undefined ? undefined : () => open(directory), recovery: options.recovery,
  })
  const keys = options.keys ?? await Promise.all((['RS256', 'ES256', 'EdDSA'] as const).map(signingKey))
  const authServer = await TestAuthServer.start(jwksOf(...keys))
  // The app is made once the port, and so the resource identifier, is known.
  let app: AnnalApp | undefined
  const server = await serve({ fetch: (...args: Parameters<AnnalApp['fetch']>) => app!.fetch(...args) }, {
    onRefused: (refusal) => void (app === undefined ? undefined : recordRefusal(app, refusal)),
  })
  const audience = `${server.url}/`
  const makeApp = () => createApp({
    ledger, auth: { issuer: ISSUER, audience, jwksUrl: authServer.jwksUrl, ...options.auth }, ...options.app,
  })
  try {
    app = await makeApp()
  } catch (error) {
    await Promise.all([server.close(), authServer.close(), ledger.close()])
    await rm(directory, { recursive: true, force: true })
    throw error
  }
  const mint = new Mint(keys[0]!, ISSUER, audience, options.app?.clock)
  return {
    get ledger() {
      return ledger
    },
    get app() {
      return app!
    },
    directory, server, authServer, audience, mint, keys,
    auditor: await mint.token({ key: keys.at(-1), scope: 'audit:read', expiresIn: 3600 }),
    url: (path) => `${server.url}${path}`,
    restart: async () => {
      await appAlerts(app!).close()
      await ledger.close()
      ledger = await Ledger.open(directory, { originPrefix: 'annal.test' })
      app = await makeApp()
    },
    close: async () => {
      endStreams(app!)
      await server.close()
      await authServer.close()
      await appAlerts(app!).close()
      await ledger.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}

/**
 * The access log as an auditor reads it over HTTP (GET /v1/logs/access/entries with an
 * audit:read token), page by page: the records, and every response body as received.
 */
export async function accessLogOverHttp(baseUrl: string, token: string): Promise<{ records: Record<string, any>[]; text: string }> {
  const records: Record<string, any>[] = []
  let text = ''
  for (let start = 0; ;) {
    const response = await fetch(`${baseUrl}/v1/logs/access/entries?start=${start}&limit=1000`, { headers: bearer(token) })
    if (response.status !== 200) throw new Error(`reading the access log: ${response.status}`)
    const body = await response.text()
    text += body
    const page = JSON.parse(body) as { size: number; entries: { envelope: Record<string, any> }[] }
    records.push(...page.entries.map((entry) => entry.envelope))
    start += page.entries.length
    if (page.entries.length === 0 || start >= page.size) return { records, text }
  }
}

/** Expects `response` to be an RFC 9457 problem with `status` and `code`; resolves with its body. */
export async function expectProblem(response: Response, status: number, code: string): Promise<Record<string, any>> {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toBe('application/problem+json')
  const body = await response.json() as Record<string, any>
  expect(body.code).toBe(code)
  return body
}

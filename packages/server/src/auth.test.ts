// The attack suite runs over the wire: the app served with serve() on 127.0.0.1 port 0, trusting
// the JWKS a test authorization server serves over HTTP, every request sent with fetch, and every
// refusal read back from the access log through the HTTP API with an audit:read token.
import { createPublicKey, randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT, base64url, exportSPKI } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tokenFingerprint } from './auth.js'
import {
  AUDIENCE, ISSUER, type LiveHarness, Mint, type SigningKey, accessLogOverHttp, bearer, harness, jwksOf, liveHarness,
  signingKey,
} from './testing/fixture.js'

const utf8 = new TextEncoder()
const ENTRIES = '/v1/logs/:log/entries'

function challenge(target: LiveHarness): string {
  return `Bearer realm="annal", resource_metadata="${target.url('/.well-known/oauth-protected-resource')}"`
}

function invalid(target: LiveHarness, description = 'the access token is invalid'): string {
  return `${challenge(target)}, error="invalid_token", error_description="${description}"`
}

function insufficient(target: LiveHarness, scope: string): string {
  return `${challenge(target)}, error="insufficient_scope", scope="${scope}"`
}

const agents = new WeakMap<Response, string>()

/** GETs `path` over the wire with `headers` and a User-Agent no other request uses. */
async function send(target: LiveHarness, headers: Record<string, string>, path = '/v1/logs/audit/entries'): Promise<Response> {
  const agent = `annal-auth-test/${randomUUID()}`
  const response = await fetch(target.url(path), { headers: { 'User-Agent': agent, ...headers } })
  agents.set(response, agent)
  return response
}

/** The response's access record, read over HTTP, found by request id and by its unique User-Agent. */
async function recordOf(target: LiveHarness, response: Response): Promise<{ record: Record<string, any>; log: string }> {
  const { records, text } = await accessLogOverHttp(target.server.url, target.auditor)
  const byId = records.filter((record) => record.request_id === response.headers.get('x-request-id'))
  const byAgent = records.filter((record) => record.user_agent === agents.get(response))
  expect(byId).toHaveLength(1)
  expect(byAgent).toEqual(byId)
  expect(byId[0]).toMatchObject({ type: 'annal.access/v1', method: 'GET', remote_address: '127.0.0.1' })
  return { record: byId[0]!, log: text }
}

interface Expected {
  /** The refused token: its fingerprint is recorded, the token itself nowhere. */
  readonly token?: string
  readonly route?: string
  /** Default log:read:audit; undefined on public routes. */
  readonly requiredScope?: string | undefined
}

/**
 * Checks the status and the exact challenge, and that the access log, as an auditor reads it
 * over HTTP, holds the refusal with its status and required scope, and never the token.
 */
async function expectRefused(target: LiveHarness, response: Response, status: number, header: string | RegExp,
    expected: Expected = {}): Promise<Record<string, any>> {
  expect(response.status).toBe(status)
  if (typeof header === 'string') expect(response.headers.get('www-authenticate')).toBe(header)
  else expect(response.headers.get('www-authenticate')).toMatch(header)
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/)
  const body = await response.text()
  const { record, log } = await recordOf(target, response)
  expect(record.status).toBe(status)
  expect(record.route).toBe(expected.route ?? ENTRIES)
  expect(record.required_scope).toBe('requiredScope' in expected ? expected.requiredScope : 'log:read:audit')
  const { token } = expected
  if (token !== undefined) {
    expect(record.token.sha256).toBe(tokenFingerprint(token))
    // The token and each long part of it; short strings can turn up in any hex.
    const secrets = [token, ...token.split('.')].filter((text) => text.length >= 16)
    for (const secret of secrets) {
      expect(JSON.stringify(record)).not.toContain(secret)
      expect(log).not.toContain(secret)
      expect(body).not.toContain(secret)
    }
  }
  return record
}

function unsigned(header: object, payload: object): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`
}

function claims(audience: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { iss: ISSUER, aud: audience, sub: 'mallory', client_id: 'c', jti: 'j', iat: now, exp: now + 600, scope: 'log:read', ...extra }
}

describe('bearer token attacks, over HTTP', () => {
  let h: LiveHarness

  beforeAll(async () => {
    // No cooldown: an unknown kid makes the server ask the authorization server again.
    h = await liveHarness({ auth: { jwksCooldownMs: 0 } })
    await h.ledger.createLog('audit')
    await h.ledger.createLog('payments')
  })
  afterAll(async () => h?.close())

  it('accepts a good token from each key type, and records who', async () => {
    for (const key of h.keys) {
      const token = await h.mint.token({ key, scope: 'log:read' })
      const response = await send(h, bearer(token))
      expect(response.status).toBe(200)
      const { record } = await recordOf(h, response)
      expect(record).toMatchObject({
        route: ENTRIES, log: 'audit', status: 200, required_scope: 'log:read:audit', authorized_by: 'log:read',
        scopes: ['log:read'], actor: { iss: ISSUER, sub: 'user-1', client_id: 'client-1' }, token: { sha256: tokenFingerprint(token) },
      })
      expect(record.token.jti).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('no token: 401 with a challenge whose resource_metadata resolves, and no error', async () => {
    const response = await send(h, {})
    const record = await expectRefused(h, response, 401, challenge(h))
    expect(record).toMatchObject({ code: 'TOKEN_MISSING' })
    expect(record.token).toBeUndefined()
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(response.headers.get('www-authenticate')!)![1]!
    expect(await (await fetch(metadataUrl)).json()).toMatchObject({
      resource: h.audience, authorization_servers: [ISSUER], bearer_methods_supported: ['header'],
    })
  })

  it('another scheme counts as no token', async () => {
    await expectRefused(h, await send(h, { Authorization: 'Basic dXNlcjpwYXNz' }), 401, challenge(h))
  })

  it('alg none', async () => {
    const token = unsigned({ alg: 'none', typ: 'at+jwt', kid: h.mint.key.kid }, claims(h.audience))
    for (const variant of [token, `${token}AAAA`, unsigned({ alg: 'NONE', typ: 'at+jwt' }, claims(h.audience))]) {
      const record = await expectRefused(h, await send(h, bearer(variant)), 401, invalid(h), { token: variant })
      expect(record.reason).toBe('jose_alg_not_allowed')
    }
  })

  it('HS256 signed with the public key (algorithm confusion)', async () => {
    const pem = await exportSPKI(createPublicKey({ key: h.mint.key.publicJwk as never, format: 'jwk' }))
    for (const secret of [utf8.encode(pem), utf8.encode(JSON.stringify(h.mint.key.publicJwk))]) {
      const token = await new SignJWT(claims(h.audience)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: h.mint.key.kid }).sign(secret)
      const record = await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })
      expect(record.reason).toBe('jose_alg_not_allowed')
    }
  })

  it('expired, and not yet valid, beyond the default clock skew', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await h.mint.token({ claims: { exp: now - 120 } })
    const record = await expectRefused(h, await send(h, bearer(expired)), 401, invalid(h, 'the access token expired'), { token: expired })
    expect(record.reason).toBe('expired')
    const early = await h.mint.token({ claims: { nbf: now + 120 } })
    expect((await expectRefused(h, await send(h, bearer(early)), 401, invalid(h), { token: early })).reason).toBe('claim_nbf_check_failed')
    const withinSkew = await h.mint.token({ scope: 'log:read', claims: { exp: now - 5, nbf: now + 5 } })
    expect((await send(h, bearer(withinSkew))).status).toBe(200)
  })

  it('wrong issuer and wrong audience', async () => {
    const wrongIss = await new Mint(h.mint.key, 'https://evil.test', h.audience).token({ scope: 'log:read' })
    expect((await expectRefused(h, await send(h, bearer(wrongIss)), 401, invalid(h), { token: wrongIss })).reason)
      .toBe('claim_iss_check_failed')
    const wrongAud = await new Mint(h.mint.key, ISSUER, 'https://other.test/').token({ scope: 'log:read' })
    expect((await expectRefused(h, await send(h, bearer(wrongAud)), 401, invalid(h), { token: wrongAud })).reason)
      .toBe('claim_aud_check_failed')
    const listed = await h.mint.token({ scope: 'log:read', claims: { aud: ['https://other.test/', h.audience] } })
    expect((await send(h, bearer(listed))).status).toBe(200)
  })

  it('typ other than at+jwt when strict', async () => {
    for (const typ of ['JWT', 'dpop+jwt', 'application/jwt']) {
      const token = await h.mint.token({ scope: 'log:read', header: { typ } })
      expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe('claim_typ_check_failed')
    }
    const missing = await new SignJWT(claims(h.audience)).setProtectedHeader({ alg: 'RS256', kid: h.mint.key.kid }).sign(h.mint.key.privateKey)
    await expectRefused(h, await send(h, bearer(missing)), 401, invalid(h), { token: missing })
    const mediaType = await h.mint.token({ scope: 'log:read', header: { typ: 'application/at+jwt' } })
    expect((await send(h, bearer(mediaType))).status).toBe(200)
  })

  it('missing required claims', async () => {
    for (const claim of ['exp', 'sub', 'client_id', 'iat', 'jti', 'iss', 'aud']) {
      const token = await h.mint.token({ scope: 'log:read', omit: [claim] })
      expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe(`claim_${claim}_missing`)
    }
  })

  it('unknown kid (after asking the authorization server again), and a key that is not the one the kid names', async () => {
    const stranger = await signingKey('ES256')
    const unknown = await h.mint.token({ scope: 'log:read', key: stranger })
    const fetches = h.authServer.fetches
    expect((await expectRefused(h, await send(h, bearer(unknown)), 401, invalid(h), { token: unknown })).reason)
      .toBe('jwks_no_matching_key')
    expect(h.authServer.fetches).toBeGreaterThan(fetches)
    const impostor = await h.mint.token({ scope: 'log:read', key: { ...stranger, kid: h.keys[1]!.kid } })
    expect((await expectRefused(h, await send(h, bearer(impostor)), 401, invalid(h), { token: impostor })).reason)
      .toBe('jws_signature_verification_failed')
  })

  it('tampered payload', async () => {
    const token = await h.mint.token({ scope: 'log:read:payments' })
    const [header, payload, signature] = token.split('.')
    const claimsIn = JSON.parse(new TextDecoder().decode(base64url.decode(payload!))) as Record<string, unknown>
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...claimsIn, scope: 'log:read log:admin' }))}.${signature}`
    expect((await expectRefused(h, await send(h, bearer(forged)), 401, invalid(h), { token: forged })).reason)
      .toBe('jws_signature_verification_failed')
  })

  it('a DPoP-bound token (cnf) sent as Bearer', async () => {
    const token = await h.mint.token({ scope: 'log:read', claims: { cnf: { jkt: 'ZXhhbXBsZQ' } } })
    expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe('cnf_bound_token_as_bearer')
  })

  it('a token in the query string, even a good one: 400 invalid_request', async () => {
    const token = await h.mint.token({ scope: 'log:read' })
    const header = `${challenge(h)}, error="invalid_request", error_description="send the access token in the Authorization header, not the URL"`
    const record = await expectRefused(h, await send(h, {}, `/v1/logs/audit/entries?access_token=${token}`), 400, header, { token })
    expect(record.reason).toBe('token_in_query')
    const onPublic = await send(h, {}, `/v1/logs/audit/checkpoint?access_token=${token}`)
    const publicRecord = await expectRefused(h, onPublic, 400, header, { token, route: '/v1/logs/:log/checkpoint', requiredScope: undefined })
    expect(publicRecord.reason).toBe('token_in_query')
  })

  it('garbage tokens are 401 invalid_token, never a 5xx', async () => {
    const header = base64url.encode('{"alg":"RS256","crit":["x"]}')
    for (const token of ['abc', 'abc.def.ghi', 'a.b.c.d.e', '....', 'eyJ9.eyJ9.eyJ9', `${header}.e30.abc`, `${base64url.encode('{"alg":"RS256"}')}.e30.`]) {
      await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })
    }
    await fc.assert(fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,200}=*$/), async (token) => {
      const response = await send(h, bearer(token))
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe(invalid(h))
    }), { numRuns: 50 })
  })

  it('a malformed Authorization header', async () => {
    await expectRefused(h, await send(h, { Authorization: 'Bearer a b' }), 400, /error="invalid_request"/)
    await expectRefused(h, await send(h, { Authorization: 'Bearer' }), 400, /error="invalid_request"/)
  })

  it('a scope for another log', async () => {
    const token = await h.mint.token({ scope: 'log:read:payments' })
    const record = await expectRefused(h, await send(h, bearer(token)), 403, insufficient(h, 'log:read:audit'), { token })
    expect(record).toMatchObject({ code: 'INSUFFICIENT_SCOPE', scopes: ['log:read:payments'] })
    expect(record.authorized_by).toBeUndefined()
    expect((await send(h, bearer(token), '/v1/logs/payments/entries')).status).toBe(200)
  })

  it('unknown scopes are ignored, never widened', async () => {
    for (const scope of ['log:read:*', 'log:*', 'LOG:READ', 'log:read:audit:x', 'log:readaudit', 'admin', '*', 'log:admin log:append audit:read']) {
      const token = await h.mint.token({ scope })
      const record = await expectRefused(h, await send(h, bearer(token)), 403, insufficient(h, 'log:read:audit'), { token })
      expect(record.scopes).toEqual(scope.split(' '))
    }
    const alongside = await h.mint.token({ scope: 'frobnicate log:read:audit log:*' })
    expect((await send(h, bearer(alongside))).status).toBe(200)
  })

  it('no scope claim means no rights; scp arrays count; malformed scope claims are refused', async () => {
    const none = await h.mint.token({})
    await expectRefused(h, await send(h, bearer(none)), 403, insufficient(h, 'log:read:audit'), { token: none })
    const scp = await h.mint.token({ claims: { scp: ['log:read:audit'] } })
    expect((await send(h, bearer(scp))).status).toBe(200)
    for (const bad of [{ scope: 5 }, { scope: ['log:read'] }, { scp: 'log:read' }, { scp: ['log:read', 3] }]) {
      const token = await h.mint.token({ claims: bad })
      expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe('scope_claim_malformed')
    }
  })

  it('bad tokens are refused on public routes too, and recorded', async () => {
    const expired = await h.mint.token({ claims: { exp: Math.floor(Date.now() / 1000) - 120 } })
    const record = await expectRefused(h, await send(h, bearer(expired), '/v1/logs/audit/checkpoint'), 401,
      invalid(h, 'the access token expired'), { token: expired, route: '/v1/logs/:log/checkpoint', requiredScope: undefined })
    expect(record.reason).toBe('expired')
  })
})

describe('clock skew (clockToleranceSeconds), over HTTP', () => {
  let lenient: LiveHarness
  let exact: LiveHarness

  beforeAll(async () => {
    const keys = await Promise.all((['ES256', 'EdDSA'] as const).map(signingKey))
    lenient = await liveHarness({ keys, auth: { clockToleranceSeconds: 60 } })
    exact = await liveHarness({ keys, auth: { clockToleranceSeconds: 0 } })
    for (const target of [lenient, exact]) await target.ledger.createLog('audit')
  })
  afterAll(async () => Promise.all([lenient?.close(), exact?.close()]))

  it('a token that expired 30 s ago: accepted with 60 s of tolerance, refused with none', async () => {
    const exp = Math.floor(Date.now() / 1000) - 30
    expect((await send(lenient, bearer(await lenient.mint.token({ scope: 'log:read', claims: { exp } })))).status).toBe(200)
    const token = await exact.mint.token({ scope: 'log:read', claims: { exp } })
    const record = await expectRefused(exact, await send(exact, bearer(token)), 401, invalid(exact, 'the access token expired'), { token })
    expect(record.reason).toBe('expired')
  })

  it('a token whose nbf is 30 s ahead: accepted with 60 s of tolerance, refused with none', async () => {
    const nbf = Math.floor(Date.now() / 1000) + 30
    expect((await send(lenient, bearer(await lenient.mint.token({ scope: 'log:read', claims: { nbf } })))).status).toBe(200)
    const token = await exact.mint.token({ scope: 'log:read', claims: { nbf } })
    const record = await expectRefused(exact, await send(exact, bearer(token)), 401, invalid(exact), { token })
    expect(record.reason).toBe('claim_nbf_check_failed')
  })
})

describe('the verified-token cache, over HTTP', () => {
  let keys: SigningKey[]
  let offsetMs = 0
  // jwksCacheMaxAgeMs 0: the server fetches the JWKS for every verification, so it sees a
  // rotation at once and anything that still passes came from the token cache.
  const fresh = { jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0 }
  const clock = (): Date => new Date(Date.now() + offsetMs)

  beforeAll(async () => {
    keys = await Promise.all((['ES256', 'ES256', 'EdDSA'] as const).map(signingKey))
  })

  /** A live harness with `audit`, run through `body`, then closed. */
  async function withServer(options: Parameters<typeof liveHarness>[0], body: (target: LiveHarness) => Promise<void>): Promise<void> {
    offsetMs = 0
    const target = await liveHarness({ keys, ...options })
    try {
      await target.ledger.createLog('audit')
      await body(target)
    } finally {
      await target.close()
    }
  }

  /** Takes keys[0], the mint's key, out of the JWKS the authorization server serves. */
  function rotateOut(target: LiveHarness): void {
    target.authServer.jwks = jwksOf(...keys.slice(1))
  }

  it('serves a verified token without fetching keys, and after its key left the JWKS; a fresh token from that key is refused', async () => {
    await withServer({ auth: fresh }, async (h) => {
      const token = await h.mint.token({ scope: 'log:read' })
      expect((await send(h, bearer(token))).status).toBe(200)
      const fetches = h.authServer.fetches
      expect((await send(h, bearer(token))).status).toBe(200)
      expect(h.authServer.fetches).toBe(fetches)
      rotateOut(h)
      expect((await send(h, bearer(token))).status).toBe(200)
      const late = await h.mint.token({ scope: 'log:read' })
      expect((await expectRefused(h, await send(h, bearer(late)), 401, invalid(h), { token: late })).reason).toBe('jwks_no_matching_key')
      expect((await send(h, bearer(await h.mint.token({ scope: 'log:read', key: keys[1] })))).status).toBe(200)
    })
  })

  it('with tokenCacheMaxAgeMs 0 nothing is remembered: the first token is refused too once its key is gone', async () => {
    await withServer({ auth: { ...fresh, tokenCacheMaxAgeMs: 0 } }, async (h) => {
      const token = await h.mint.token({ scope: 'log:read' })
      expect((await send(h, bearer(token))).status).toBe(200)
      const fetches = h.authServer.fetches
      expect((await send(h, bearer(token))).status).toBe(200)
      expect(h.authServer.fetches).toBeGreaterThan(fetches)
      rotateOut(h)
      expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe('jwks_no_matching_key')
    })
  })

  it('holds at most tokenCacheSize tokens, forgetting the least recently used', async () => {
    await withServer({ auth: { ...fresh, tokenCacheSize: 2 } }, async (h) => {
      const [a, b, c] = await Promise.all([1, 2, 3].map(async () => h.mint.token({ scope: 'log:read' })))
      // a is used again after b, so c's arrival pushes out b, not a.
      for (const token of [a!, b!, a!, c!]) expect((await send(h, bearer(token))).status).toBe(200)
      rotateOut(h)
      expect((await send(h, bearer(a!))).status).toBe(200)
      expect((await send(h, bearer(c!))).status).toBe(200)
      expect((await expectRefused(h, await send(h, bearer(b!)), 401, invalid(h), { token: b })).reason).toBe('jwks_no_matching_key')
    })
  })

  it('never serves a cached token past its exp', async () => {
    await withServer({ app: { clock }, auth: { clockToleranceSeconds: 0, tokenCacheMaxAgeMs: 3_600_000 } }, async (h) => {
      const token = await h.mint.token({ scope: 'log:read', expiresIn: 60 })
      expect((await send(h, bearer(token))).status).toBe(200)
      expect((await send(h, bearer(token))).status).toBe(200)
      offsetMs = 61_000
      const refused = await expectRefused(h, await send(h, bearer(token)), 401, invalid(h, 'the access token expired'), { token })
      expect(refused.reason).toBe('expired')
    })
  })

  it('forgets a token after tokenCacheMaxAgeMs', async () => {
    await withServer({ app: { clock }, auth: { ...fresh, tokenCacheMaxAgeMs: 60_000 } }, async (h) => {
      const token = await h.mint.token({ scope: 'log:read' })
      expect((await send(h, bearer(token))).status).toBe(200)
      rotateOut(h)
      offsetMs = 30_000
      expect((await send(h, bearer(token))).status).toBe(200)
      offsetMs = 61_000
      expect((await expectRefused(h, await send(h, bearer(token)), 401, invalid(h), { token })).reason).toBe('jwks_no_matching_key')
    })
  })
})

describe('auth configuration', () => {
  it('takes HS256 only with a configured secret, and only signed with that secret', async () => {
    const secret = utf8.encode('a shared secret of at least thirty-two bytes')
    const local = await harness({ auth: { hmacSecret: secret } })
    try {
      await local.ledger.createLog('audit')
      const good = await new SignJWT(claims(AUDIENCE)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(secret)
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(good) })).status).toBe(200)
      const pem = utf8.encode(JSON.stringify(local.mint.key.publicJwk))
      const confused = await new SignJWT(claims(AUDIENCE)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(pem)
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(confused) })).status).toBe(401)
      const rs = await local.mint.token({ scope: 'log:read' })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(rs) })).status).toBe(200)
    } finally {
      await local.close()
    }
  })

  it('refuses algorithms outside the allow-list', async () => {
    const local = await harness({ auth: { algorithms: ['ES256'] } })
    try {
      await local.ledger.createLog('audit')
      const rs = await local.mint.token({ scope: 'log:read' })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(rs) })).status).toBe(401)
      const es = await local.mint.token({ scope: 'log:read', key: local.keys[1] })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(es) })).status).toBe(200)
    } finally {
      await local.close()
    }
  })

  it('refuses bad configurations', async () => {
    const local = await harness()
    const base = { ledger: local.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [] } } }
    const { createApp } = await import('./app.js')
    await expect(createApp({ ...base, auth: { ...base.auth, algorithms: ['none'] } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, auth: { ...base.auth, algorithms: ['HS256'] } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, auth: { ...base.auth, audience: 'urn:annal' } })).rejects.toThrow('auth.audience "urn:annal" must be an http(s) URL: the resource identifier of RFC 8707 and RFC 9728')
    await expect(createApp({ ...base, auth: { issuer: ISSUER, audience: AUDIENCE } })).rejects.toThrow(TypeError)
    await expect(createApp({ ...base, auth: { ...base.auth, hmacSecret: new Uint8Array(16) } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, limits: { bodyBytes: 0 } })).rejects.toThrow(RangeError)
    // The token cache cannot be sized away; tokenCacheMaxAgeMs: 0 is how it is turned off.
    await expect(createApp({ ...base, auth: { ...base.auth, tokenCacheSize: 0 } })).rejects.toThrow(RangeError)
    await local.close()
  })
})

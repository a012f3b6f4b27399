import { createPublicKey } from 'node:crypto'
import fc from 'fast-check'
import { SignJWT, base64url, exportSPKI } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { tokenFingerprint } from './auth.js'
import { AUDIENCE, type Harness, ISSUER, Mint, accessRecords, bearer, harness, recordOf, signingKey } from './testing/fixture.js'

const METADATA = 'https://annal.test/.well-known/oauth-protected-resource'
const CHALLENGE = `Bearer realm="annal", resource_metadata="${METADATA}"`
const INVALID = `${CHALLENGE}, error="invalid_token", error_description="the access token is invalid"`
const utf8 = new TextEncoder()

let h: Harness
let clockOffsetMs = 0

beforeEach(async () => {
  clockOffsetMs = 0
  h = await harness({ app: { clock: () => new Date(Date.now() + clockOffsetMs) } })
  await h.ledger.createLog('audit')
  await h.ledger.createLog('payments')
})
afterEach(async () => h.close())

/** GET entries of `audit` (log:read) with the given headers. */
async function read(headers: Record<string, string>, path = '/v1/logs/audit/entries'): Promise<Response> {
  return h.app.request(path, { headers })
}

/** Checks the status, the challenge and that the access log holds the refusal, never the token. */
async function expectRefused(response: Response, status: number, challenge: string | RegExp, token?: string): Promise<Record<string, any>> {
  expect(response.status).toBe(status)
  const header = response.headers.get('www-authenticate')
  if (typeof challenge === 'string') expect(header).toBe(challenge)
  else expect(header).toMatch(challenge)
  const record = await recordOf(h.ledger, response)
  expect(record).toBeDefined()
  expect(record!.status).toBe(status)
  expect(record!.route).toBe('/v1/logs/:log/entries')
  if (token !== undefined) {
    expect(record!.token.sha256).toBe(tokenFingerprint(token))
    // Short strings can turn up in any hex; real tokens are long.
    const secrets = [token, token.split('.')[2] ?? ''].filter((text) => text.length >= 16)
    const all = JSON.stringify(await accessRecords(h.ledger))
    const body = await response.text()
    for (const secret of secrets) {
      expect(all).not.toContain(secret)
      expect(body).not.toContain(secret)
    }
  }
  return record!
}

function unsigned(header: object, payload: object): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.`
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { iss: ISSUER, aud: AUDIENCE, sub: 'mallory', client_id: 'c', jti: 'j', iat: now, exp: now + 600, scope: 'log:read', ...extra }
}

describe('bearer token attacks', () => {
  it('accepts a good token from each key type, and records who', async () => {
    for (const key of h.keys) {
      const token = await h.mint.token({ key, scope: 'log:read' })
      const response = await read(bearer(token))
      expect(response.status).toBe(200)
      const record = await recordOf(h.ledger, response)
      expect(record).toMatchObject({
        type: 'annal.access/v1', method: 'GET', route: '/v1/logs/:log/entries', log: 'audit', status: 200,
        required_scope: 'log:read:audit', authorized_by: 'log:read', scopes: ['log:read'],
        actor: { iss: ISSUER, sub: 'user-1', client_id: 'client-1' }, token: { sha256: tokenFingerprint(token) },
      })
      expect(record!.token.jti).toMatch(/^[0-9a-f-]{36}$/)
    }
  })

  it('no token: 401 with the resource metadata challenge and no error', async () => {
    const record = await expectRefused(await read({}), 401, CHALLENGE)
    expect(record).toMatchObject({ code: 'TOKEN_MISSING', required_scope: 'log:read:audit' })
    expect(record.token).toBeUndefined()
  })

  it('another scheme counts as no token', async () => {
    await expectRefused(await read({ Authorization: 'Basic dXNlcjpwYXNz' }), 401, CHALLENGE)
  })

  it('alg none', async () => {
    const token = unsigned({ alg: 'none', typ: 'at+jwt', kid: h.mint.key.kid }, claims())
    for (const variant of [token, `${token}AAAA`, unsigned({ alg: 'NONE', typ: 'at+jwt' }, claims())]) {
      const record = await expectRefused(await read(bearer(variant)), 401, INVALID, variant)
      expect(record.reason).toBe('jose_alg_not_allowed')
    }
  })

  it('HS256 signed with the public key (algorithm confusion)', async () => {
    const pem = await exportSPKI(createPublicKey({ key: h.mint.key.publicJwk as never, format: 'jwk' }))
    for (const secret of [utf8.encode(pem), utf8.encode(JSON.stringify(h.mint.key.publicJwk))]) {
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: h.mint.key.kid }).sign(secret)
      const record = await expectRefused(await read(bearer(token)), 401, INVALID, token)
      expect(record.reason).toBe('jose_alg_not_allowed')
    }
  })

  it('expired, and not yet valid, beyond the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000)
    const expired = await h.mint.token({ claims: { exp: now - 120 } })
    const record = await expectRefused(await read(bearer(expired)), 401,
      `${CHALLENGE}, error="invalid_token", error_description="the access token expired"`, expired)
    expect(record.reason).toBe('expired')
    const early = await h.mint.token({ claims: { nbf: now + 120 } })
    expect((await expectRefused(await read(bearer(early)), 401, INVALID, early)).reason).toBe('claim_nbf_check_failed')
    const withinSkew = await h.mint.token({ scope: 'log:read', claims: { exp: now - 5, nbf: now + 5 } })
    expect((await read(bearer(withinSkew))).status).toBe(200)
  })

  it('wrong issuer and wrong audience', async () => {
    const wrongIss = await new Mint(h.mint.key, 'https://evil.test').token({ scope: 'log:read' })
    expect((await expectRefused(await read(bearer(wrongIss)), 401, INVALID, wrongIss)).reason).toBe('claim_iss_check_failed')
    const wrongAud = await new Mint(h.mint.key, ISSUER, 'https://other.test/').token({ scope: 'log:read' })
    expect((await expectRefused(await read(bearer(wrongAud)), 401, INVALID, wrongAud)).reason).toBe('claim_aud_check_failed')
    const listed = await h.mint.token({ scope: 'log:read', claims: { aud: ['https://other.test/', AUDIENCE] } })
    expect((await read(bearer(listed))).status).toBe(200)
  })

  it('typ other than at+jwt when strict', async () => {
    for (const typ of ['JWT', 'dpop+jwt', 'application/jwt']) {
      const token = await h.mint.token({ scope: 'log:read', header: { typ } })
      expect((await expectRefused(await read(bearer(token)), 401, INVALID, token)).reason).toBe('claim_typ_check_failed')
    }
    const missing = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: h.mint.key.kid }).sign(h.mint.key.privateKey)
    await expectRefused(await read(bearer(missing)), 401, INVALID, missing)
    const mediaType = await h.mint.token({ scope: 'log:read', header: { typ: 'application/at+jwt' } })
    expect((await read(bearer(mediaType))).status).toBe(200)
  })

  it('missing required claims', async () => {
    for (const claim of ['exp', 'sub', 'client_id', 'iat', 'jti', 'iss', 'aud']) {
      const token = await h.mint.token({ scope: 'log:read', omit: [claim] })
      const record = await expectRefused(await read(bearer(token)), 401, INVALID, token)
      expect(record.reason).toBe(`claim_${claim}_missing`)
    }
  })

  it('unknown kid, and a key that is not the one the kid names', async () => {
    const stranger = await signingKey('ES256')
    const unknown = await h.mint.token({ scope: 'log:read', key: stranger })
    expect((await expectRefused(await read(bearer(unknown)), 401, INVALID, unknown)).reason).toBe('jwks_no_matching_key')
    const impostor = await h.mint.token({ scope: 'log:read', key: { ...stranger, kid: h.keys[1]!.kid } })
    expect((await expectRefused(await read(bearer(impostor)), 401, INVALID, impostor)).reason).toBe('jws_signature_verification_failed')
  })

  it('tampered payload', async () => {
    const token = await h.mint.token({ scope: 'log:read' })
    const [header, payload, signature] = token.split('.')
    const claimsIn = JSON.parse(new TextDecoder().decode(base64url.decode(payload!))) as Record<string, unknown>
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...claimsIn, scope: 'log:read log:admin' }))}.${signature}`
    expect((await expectRefused(await read(bearer(forged)), 401, INVALID, forged)).reason).toBe('jws_signature_verification_failed')
  })

  it('a DPoP-bound token (cnf) sent as Bearer', async () => {
    const token = await h.mint.token({ scope: 'log:read', claims: { cnf: { jkt: 'ZXhhbXBsZQ' } } })
    expect((await expectRefused(await read(bearer(token)), 401, INVALID, token)).reason).toBe('cnf_bound_token_as_bearer')
  })

  it('a token in the query string, even a good one', async () => {
    const token = await h.mint.token({ scope: 'log:read' })
    const response = await h.app.request(`/v1/logs/audit/entries?access_token=${token}`)
    const record = await expectRefused(response, 400, `${CHALLENGE}, error="invalid_request", error_description="send the access token in the Authorization header, not the URL"`, token)
    expect(record.reason).toBe('token_in_query')
    const onPublic = await h.app.request(`/v1/logs/audit/checkpoint?access_token=${token}`)
    expect(onPublic.status).toBe(400)
    expect((await recordOf(h.ledger, onPublic))!.reason).toBe('token_in_query')
  })

  it('garbage tokens are 401 invalid_token, never a 5xx', async () => {
    const header = base64url.encode('{"alg":"RS256","crit":["x"]}')
    for (const token of ['abc', 'abc.def.ghi', 'a.b.c.d.e', '....', 'eyJ9.eyJ9.eyJ9', `${header}.e30.abc`, `${base64url.encode('{"alg":"RS256"}')}.e30.`]) {
      await expectRefused(await read(bearer(token)), 401, INVALID, token)
    }
    await fc.assert(fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,200}=*$/), async (token) => {
      const response = await read(bearer(token))
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe(INVALID)
    }), { numRuns: 50 })
  })

  it('a malformed Authorization header', async () => {
    await expectRefused(await read({ Authorization: 'Bearer a b' }), 400, /error="invalid_request"/)
    await expectRefused(await read({ Authorization: 'Bearer' }), 400, /error="invalid_request"/)
  })

  it('a scope for another log', async () => {
    const token = await h.mint.token({ scope: 'log:read:payments' })
    const record = await expectRefused(await read(bearer(token)), 403,
      `${CHALLENGE}, error="insufficient_scope", scope="log:read:audit"`, token)
    expect(record).toMatchObject({ code: 'INSUFFICIENT_SCOPE', scopes: ['log:read:payments'] })
    expect((await read(bearer(token), '/v1/logs/payments/entries')).status).toBe(200)
  })

  it('unknown scopes are ignored, never widened', async () => {
    for (const scope of ['log:read:*', 'log:*', 'LOG:READ', 'log:read:audit:x', 'log:readaudit', 'admin', '*', 'log:admin log:append audit:read']) {
      const token = await h.mint.token({ scope })
      await expectRefused(await read(bearer(token)), 403, /error="insufficient_scope", scope="log:read:audit"/, token)
    }
  })

  it('no scope claim means no rights; scp arrays count; malformed scope claims are refused', async () => {
    const none = await h.mint.token({})
    await expectRefused(await read(bearer(none)), 403, /insufficient_scope/, none)
    const scp = await h.mint.token({ claims: { scp: ['log:read:audit'] } })
    expect((await read(bearer(scp))).status).toBe(200)
    for (const bad of [{ scope: 5 }, { scope: ['log:read'] }, { scp: 'log:read' }, { scp: ['log:read', 3] }]) {
      const token = await h.mint.token({ claims: bad })
      expect((await expectRefused(await read(bearer(token)), 401, INVALID, token)).reason).toBe('scope_claim_malformed')
    }
  })

  it('bad tokens are refused on public routes too, and recorded', async () => {
    const expired = await h.mint.token({ claims: { exp: Math.floor(Date.now() / 1000) - 120 } })
    const response = await h.app.request('/v1/logs/audit/checkpoint', { headers: bearer(expired) })
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toMatch(/invalid_token/)
    const record = await recordOf(h.ledger, response)
    expect(record).toMatchObject({ route: '/v1/logs/:log/checkpoint', status: 401, reason: 'expired' })
    expect(record!.required_scope).toBeUndefined()
  })

  it('never serves a cached token past its exp', async () => {
    const token = await h.mint.token({ scope: 'log:read', expiresIn: 60 })
    expect((await read(bearer(token))).status).toBe(200)
    expect((await read(bearer(token))).status).toBe(200)
    clockOffsetMs = 120_000
    const response = await read(bearer(token))
    expect((await expectRefused(response, 401, /invalid_token/, token)).reason).toBe('expired')
  })
})

describe('auth configuration', () => {
  it('takes HS256 only with a configured secret, and only signed with that secret', async () => {
    const secret = utf8.encode('a shared secret of at least thirty-two bytes')
    const local = await harness({ auth: { hmacSecret: secret } })
    try {
      await local.ledger.createLog('audit')
      const good = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(secret)
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(good) })).status).toBe(200)
      const pem = utf8.encode(JSON.stringify(local.mint.key.publicJwk))
      const confused = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(pem)
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

  it('accepts JWT-typed tokens and the RFC 9068 minimum when not strict', async () => {
    const local = await harness({ auth: { strict: false } })
    try {
      await local.ledger.createLog('audit')
      const plain = await local.mint.token({ scope: 'log:read', header: { typ: 'JWT' }, omit: ['jti', 'client_id', 'iat'] })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(plain) })).status).toBe(200)
      const dpop = await local.mint.token({ scope: 'log:read', header: { typ: 'dpop+jwt' } })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(dpop) })).status).toBe(401)
      const noSub = await local.mint.token({ scope: 'log:read', omit: ['sub'] })
      expect((await local.app.request('/v1/logs/audit/entries', { headers: bearer(noSub) })).status).toBe(401)
    } finally {
      await local.close()
    }
  })

  it('refuses bad configurations', async () => {
    const base = { ledger: h.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [] } } }
    const { createApp } = await import('./app.js')
    await expect(createApp({ ...base, auth: { ...base.auth, algorithms: ['none'] } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, auth: { ...base.auth, algorithms: ['HS256'] } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, auth: { ...base.auth, audience: 'urn:annal' } })).rejects.toThrow(TypeError)
    await expect(createApp({ ...base, auth: { issuer: ISSUER, audience: AUDIENCE } })).rejects.toThrow(TypeError)
    await expect(createApp({ ...base, auth: { ...base.auth, hmacSecret: new Uint8Array(16) } })).rejects.toThrow(RangeError)
    await expect(createApp({ ...base, limits: { bodyBytes: 0 } })).rejects.toThrow(RangeError)
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AnnalApp, createApp } from './app.js'
import { TOKEN_PROFILES, TOKEN_PROFILE_NAMES, type TokenProfile, type TokenProfileName, typeAccepted } from './token-profile.js'
import { AUDIENCE, type Harness, ISSUER, bearer, harness, jwksOf, recordOf } from './testing/fixture.js'
import { entraAppToken, providerToken } from './testing/providers.js'

const ENTRIES = '/v1/logs/audit/entries'

/** The reason the strict default gives for each provider's token, as the access log records it. */
const STRICT_REASONS: Record<Exclude<TokenProfileName, 'rfc9068'>, string> = {
  keycloak: 'claim_typ_check_failed',
  auth0: 'claim_jti_missing',
  okta: 'claim_typ_check_failed',
  entra: 'claim_jti_missing',
}

/** The claim each provider's token names its client in, and the client. */
const CLIENTS: Record<TokenProfileName, string> = {
  rfc9068: 'ingest', keycloak: 'annal-ingest', auth0: 'Qx3ZbUe0Y1m8', okta: '0oa1b2c3d4EXAMPLE', entra: '11111111-2222-3333-4444-555555555555',
}

describe('token profiles', () => {
  let h: Harness
  const apps = new Map<TokenProfileName, AnnalApp>()

  beforeAll(async () => {
    h = await harness()
    await h.ledger.createLog('audit')
    for (const name of TOKEN_PROFILE_NAMES) {
      apps.set(name, await createApp({ ledger: h.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...h.keys), tokenProfile: name } }))
    }
  })
  afterAll(async () => h?.close())

  async function get(app: AnnalApp, token: string): Promise<{ status: number; record: Record<string, any> | undefined }> {
    const response = await app.request(ENTRIES, { headers: bearer(token) })
    return { status: response.status, record: await recordOf(h.ledger, response) }
  }

  for (const name of TOKEN_PROFILE_NAMES) {
    it(`${name}: accepts a token shaped as the provider issues it, and records its client`, async () => {
      const token = await providerToken(h.mint, name, ['log:read'])
      const { status, record } = await get(apps.get(name)!, token)
      expect(status).toBe(200)
      expect(record).toMatchObject({ authorized_by: 'log:read', actor: { iss: ISSUER, client_id: CLIENTS[name] } })
    })
  }

  for (const [name, reason] of Object.entries(STRICT_REASONS)) {
    it(`${name}: the provider's token is refused by the strict default, and the access log says why`, async () => {
      const token = await providerToken(h.mint, name as TokenProfileName, ['log:read'])
      for (const app of [h.app, apps.get('rfc9068')!]) {
        const { status, record } = await get(app, token)
        expect(status).toBe(401)
        expect(record).toMatchObject({ code: 'TOKEN_INVALID', reason })
      }
    })
  }

  it('entra: application permissions come from roles', async () => {
    const { status, record } = await get(apps.get('entra')!, await entraAppToken(h.mint, ['log:read']))
    expect(status).toBe(200)
    expect(record).toMatchObject({ scopes: ['log:read'], actor: { client_id: '11111111-2222-3333-4444-555555555555' } })
  })

  it('auth0: permissions count when the token has no scope', async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'auth0|1', azp: 'c', iat: 1, exp: Math.floor(Date.now() / 1000) + 60 }
    expect((await get(apps.get('auth0')!, await h.mint.signed({ typ: 'JWT' }, { ...claims, permissions: ['log:read'] }))).status).toBe(200)
  })

  it('refuses a token that names no client, naming the claims looked for', async () => {
    const token = await h.mint.token({ scope: 'log:read', header: { typ: 'JWT' }, omit: ['client_id'] })
    expect((await get(apps.get('keycloak')!, token)).record).toMatchObject({ status: 401, reason: 'claim_azp_or_client_id_missing' })
    const empty = await h.mint.token({ scope: 'log:read', header: { typ: 'JWT' }, claims: { azp: '' } })
    expect((await get(apps.get('keycloak')!, empty)).record).toMatchObject({ status: 401, reason: 'azp_malformed' })
  })

  it('refuses a scope claim in the wrong form for the profile', async () => {
    const okta = await h.mint.token({ header: { typ: 'at+jwt' }, claims: { cid: 'c', scp: 'log:read' } })
    expect((await get(apps.get('okta')!, okta)).record).toMatchObject({ status: 401, reason: 'scope_claim_malformed' })
  })

  it('takes a profile of its own: JWT or no typ, only iss, aud, exp and a client', async () => {
    const own: TokenProfile = { types: ['JWT', null], clientClaims: ['client_id'], requiredClaims: [], scopeClaims: [{ claim: 'scope', form: 'string' }] }
    const app = await createApp({ ledger: h.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...h.keys), tokenProfile: own } })
    const plain = await h.mint.token({ scope: 'log:read', header: { typ: 'JWT' }, omit: ['jti', 'sub', 'iat'] })
    expect((await get(app, plain)).status).toBe(200)
    const none = await h.mint.signed({}, { iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60, client_id: 'c', scope: 'log:read' })
    expect((await get(app, none)).status).toBe(200)
    const dpop = await h.mint.token({ scope: 'log:read', header: { typ: 'dpop+jwt' } })
    expect((await get(app, dpop)).record).toMatchObject({ status: 401, reason: 'claim_typ_check_failed' })
  })

  it('refuses an unknown profile name, naming the valid ones, and a malformed profile', async () => {
    const base = { ledger: h.ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...h.keys) } }
    await expect(createApp({ ...base, auth: { ...base.auth, tokenProfile: 'google' as TokenProfileName } }))
      .rejects.toThrow(new RangeError('unknown token profile "google"; use one of rfc9068, keycloak, auth0, okta, entra'))
    for (const bad of [{ types: [] }, { clientClaims: [] }, { requiredClaims: [3] }, { scopeClaims: [{ claim: 'scope', form: 'list' }] }]) {
      const tokenProfile = { ...TOKEN_PROFILES.rfc9068, ...bad } as unknown as TokenProfile
      await expect(createApp({ ...base, auth: { ...base.auth, tokenProfile } })).rejects.toThrow(TypeError)
    }
  })
})

describe('typ comparison', () => {
  it('compares media types without case, application/ optional; null stands for none', () => {
    const { rfc9068, okta } = TOKEN_PROFILES
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT']) expect(typeAccepted(rfc9068, typ)).toBe(true)
    for (const typ of [undefined, 'jwt', 'at+jwt+x', 'text/at+jwt', 5]) expect(typeAccepted(rfc9068, typ)).toBe(false)
    expect(typeAccepted(okta, undefined)).toBe(true)
    expect(typeAccepted(okta, 'JWT')).toBe(false)
  })
})

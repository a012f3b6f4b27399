import { base64url } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { type AuthOptions, TokenVerifier } from './auth.js'
import { explainToken } from './explain.js'
import { isAnnalScope } from './scopes.js'
import { AUDIENCE, ISSUER, Mint, type SigningKey, jwksOf, signingKey } from './testing/fixture.js'
import { providerToken } from './testing/providers.js'

let keys: SigningKey[]
let mint: Mint
let options: AuthOptions

beforeAll(async () => {
  keys = await Promise.all((['RS256', 'ES256'] as const).map(signingKey))
  mint = new Mint(keys[0]!)
  options = { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(...keys) }
})

/** The rules of the explanation as `rule: passed`, and the one named. */
async function explained(token: string, auth: AuthOptions = options) {
  const explanation = await explainToken(auth, token)
  const text = JSON.stringify(explanation)
  for (const secret of [token, ...token.split('.')].filter((part) => part.length >= 16)) expect(text).not.toContain(secret)
  const rule = (name: string) => explanation.rules.find((item) => item.rule === name)!
  return { explanation, rule }
}

describe('explainToken', () => {
  it('passes every rule of a good token, saying what it found, never quoting the token', async () => {
    const token = await mint.token({ scope: 'openid log:read log:append:audit' })
    const { explanation, rule } = await explained(token)
    expect(explanation.passed).toBe(true)
    expect(explanation.rules.map((item) => item.rule)).toEqual(
      ['format', 'alg', 'signature', 'typ', 'iss', 'aud', 'exp', 'nbf', 'iat', 'claims', 'client', 'bearer', 'scopes'])
    expect(explanation.rules.every((item) => item.passed)).toBe(true)
    expect(explanation.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(rule('signature').detail).toBe(`signed by the trusted key with kid "${keys[0]!.kid}"`)
    // Seconds pass between minting and explaining on a loaded machine.
    const expiresIn = Number(/^expires in (\d+) s \(30 s of clock skew allowed\)$/.exec(rule('exp').detail)?.[1])
    expect(expiresIn).toBeGreaterThan(540)
    expect(expiresIn).toBeLessThan(610)
    expect(rule('client').detail).toBe('names the client "client-1" in client_id')
    expect(rule('scopes').detail).toBe('grants log:read log:append:audit (from scope)')
  })

  it('says which rule fails, and why', async () => {
    const now = Math.floor(Date.now() / 1000)
    const cases: [string, Promise<string>, string, string | RegExp][] = [
      ['expired', mint.token({ scope: 'log:read', claims: { exp: now - 120 } }), 'exp', /^expired 1[23]\d s ago, beyond the 30 s of clock skew allowed$/],
      ['wrong audience', new Mint(keys[0]!, ISSUER, 'https://other.test/').token({ scope: 'log:read' }), 'aud',
        `aud "https://other.test/" does not hold this server's resource identifier "${AUDIENCE}"`],
      ['wrong issuer', new Mint(keys[0]!, 'https://evil.test').token({ scope: 'log:read' }), 'iss',
        `iss "https://evil.test" is not the configured issuer "${ISSUER}"`],
      ['typ JWT', mint.token({ scope: 'log:read', header: { typ: 'JWT' } }), 'typ', 'typ "JWT" is not accepted; accepted: at+jwt'],
      ['no jti', mint.token({ scope: 'log:read', omit: ['jti'] }), 'claims', 'lacks jti, which the token profile requires'],
      ['no client', mint.token({ scope: 'log:read', omit: ['client_id'] }), 'client', 'names no client: it has none of client_id'],
      ['no Annal scope', mint.token({ scope: 'openid profile' }), 'scopes',
        'grants none of Annal\'s scopes (its scope: "openid profile"); every route would answer 403'],
      ['scp a string', mint.token({ claims: { scp: 'log:read' } }), 'scopes', 'scp is not an array of strings'],
      ['bound to a key', mint.token({ scope: 'log:read', claims: { cnf: { jkt: 'x' } } }), 'bearer',
        'bound to a key (cnf): a sender-constrained token is refused as a bearer token (RFC 9449 §7.1)'],
      ['not yet valid', mint.token({ scope: 'log:read', claims: { nbf: now + 120 } }), 'nbf', /^valid only in 1[12]\d s, beyond/],
      ['unknown key', mint.token({ scope: 'log:read', key: { ...keys[1]!, kid: 'stranger' } }), 'signature',
        'no trusted key has kid "stranger" and suits ES256'],
      ['another key under this kid', mint.token({ scope: 'log:read', key: { ...keys[0]!, privateKey: (await signingKey('RS256')).privateKey } }),
        'signature', `the signature does not verify with the trusted key for kid "${keys[0]!.kid}"`],
    ]
    for (const [what, token, name, detail] of cases) {
      const { explanation, rule } = await explained(await token)
      expect(explanation.passed, what).toBe(false)
      expect(explanation.rules.filter((item) => !item.passed).map((item) => item.rule), what).toEqual([name])
      if (typeof detail === 'string') expect(rule(name).detail, what).toBe(detail)
      else expect(rule(name).detail, what).toMatch(detail)
    }
  })

  it('refuses an algorithm outside the allow-list without checking the signature', async () => {
    const { explanation, rule } = await explained(await mint.token({ scope: 'log:read' }), { ...options, algorithms: ['ES256'] })
    expect(explanation.passed).toBe(false)
    expect(rule('alg').detail).toBe('alg "RS256" is not allowed; allowed: ES256')
    expect(rule('signature')).toMatchObject({ passed: false, detail: 'not checked: the algorithm is not allowed' })
  })

  it('explains what is not a JWT in one rule', async () => {
    for (const token of ['abc', 'a.b.c', `${base64url.encode('{"alg":"RS256"}')}.${base64url.encode('[1]')}.x`]) {
      const { explanation } = await explained(token)
      expect(explanation.rules).toEqual([{ rule: 'format', passed: false, detail: expect.stringMatching(/^not a signed JWT in compact form: /) }])
    }
  })

  it('follows the token profile', async () => {
    const token = await providerToken(mint, 'okta', ['log:read'])
    expect((await explained(token)).explanation.passed).toBe(false)
    const { explanation, rule } = await explained(token, { ...options, tokenProfile: 'okta' })
    expect(explanation.passed).toBe(true)
    expect(rule('typ').detail).toBe('no typ is accepted')
    expect(rule('client').detail).toBe('names the client "0oa1b2c3d4EXAMPLE" in cid')
  })

  it('passes exactly when TokenVerifier accepts and the token grants one of Annal\'s scopes', async () => {
    const now = Math.floor(Date.now() / 1000)
    const tokens = await Promise.all([
      mint.token({ scope: 'log:read' }),
      mint.token({ scope: 'log:read', claims: { exp: now - 10, nbf: now + 10 } }),
      mint.token({ scope: 'log:read', claims: { exp: now - 40 } }),
      mint.token({ scope: 'log:read', claims: { iat: 'yesterday' } }),
      mint.token({ scope: 'log:read', claims: { sub: 5 } }),
      mint.token({ scope: 'log:read', claims: { aud: ['https://x.test/', AUDIENCE] } }),
      mint.token({ scope: 'log:read', header: { typ: 'application/at+jwt' } }),
      mint.token({ scope: 'log:read', omit: ['iat'] }),
      mint.token({ scope: 'log:read', omit: ['sub'] }),
      mint.token({ scope: 'log:read', key: keys[1] }),
      ...['rfc9068', 'keycloak', 'auth0', 'okta', 'entra'].map((name) => providerToken(mint, name as 'okta', ['log:read'])),
    ])
    for (const tokenProfile of ['rfc9068', 'keycloak', 'auth0', 'okta', 'entra'] as const) {
      const auth = { ...options, tokenProfile }
      const verifier = new TokenVerifier(auth, () => new Date())
      for (const [index, token] of tokens.entries()) {
        const accepted = await verifier.verify(token).then((principal) => principal.scopes.some(isAnnalScope), () => false)
        expect((await explainToken(auth, token)).passed, `token ${index} under ${tokenProfile}`).toBe(accepted)
      }
    }
  })
})

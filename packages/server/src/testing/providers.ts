import { randomUUID } from 'node:crypto'
import type { TokenProfileName } from '../token-profile.js'
import type { Mint } from './fixture.js'

/**
 * An access token shaped as `provider` issues it (header parameters and claims, with its
 * provider-specific extras), for the mint's issuer and audience, granting `scopes`, signed with
 * the mint's key. The shapes follow the sources cited in token-profile.ts.
 */
export async function providerToken(mint: Mint, provider: TokenProfileName, scopes: readonly string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const times = { iat: now, exp: now + 300 }
  const { issuer: iss, audience: aud } = mint
  switch (provider) {
    case 'rfc9068':
      return mint.signed({ typ: 'at+jwt' }, {
        iss, aud, sub: 'user-1', client_id: 'ingest', jti: randomUUID(), ...times, scope: scopes.join(' '),
      })
    case 'keycloak':
      return mint.signed({ typ: 'JWT' }, {
        ...times, auth_time: now, jti: randomUUID(), iss, aud: [aud, 'account'], sub: randomUUID(), typ: 'Bearer',
        azp: 'annal-ingest', sid: randomUUID(), acr: '1', 'allowed-origins': ['/*'],
        realm_access: { roles: ['default-roles-demo', 'offline_access'] }, resource_access: { account: { roles: ['view-profile'] } },
        scope: ['openid', 'profile', 'email', ...scopes].join(' '), email_verified: false, preferred_username: 'alice',
      })
    case 'auth0':
      return mint.signed({ typ: 'JWT' }, {
        iss, sub: 'auth0|64f1c2', aud: [aud, `${iss}userinfo`], ...times, azp: 'Qx3ZbUe0Y1m8', scope: ['openid', 'profile', ...scopes].join(' '),
        permissions: [...scopes],
      })
    case 'okta':
      return mint.signed({}, {
        ver: 1, jti: `AT.${randomUUID()}`, iss, aud, ...times, cid: '0oa1b2c3d4EXAMPLE', uid: '00u1a2b3c4EXAMPLE',
        scp: ['openid', ...scopes], auth_time: now, sub: 'alice@example.com',
      })
    case 'entra':
      return mint.signed({ typ: 'JWT', x5t: 'nOo3ZDrODXEK1jKWhXslHR_KXEg' }, {
        aud, iss, ...times, nbf: now, acr: '1', aio: 'AUQAu/8TAAAA', amr: ['pwd'], appid: '11111111-2222-3333-4444-555555555555',
        appidacr: '1', name: 'Alice', oid: '66666666-7777-8888-9999-000000000000', rh: '0.AAAA', scp: scopes.join(' '),
        sub: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        unique_name: 'alice@contoso.com', upn: 'alice@contoso.com', uti: 'fqiBqXLPj0eQa82S-IYFAA', ver: '1.0',
      })
  }
}

/** An Entra ID application-permission token (client credentials): app roles in `roles`, no `scp`. */
export async function entraAppToken(mint: Mint, roles: readonly string[]): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return mint.signed({ typ: 'JWT', x5t: 'nOo3ZDrODXEK1jKWhXslHR_KXEg' }, {
    aud: mint.audience, iss: mint.issuer, iat: now, nbf: now, exp: now + 300, aio: 'E2ZgYJg', azp: '11111111-2222-3333-4444-555555555555',
    azpacr: '1', oid: '66666666-7777-8888-9999-000000000000', rh: '0.AAAA', roles: [...roles],
    sub: '66666666-7777-8888-9999-000000000000', tid: '72f988bf-86f1-41af-91ab-2d7cd011db47', uti: 'dBvqP0PvQkW', ver: '2.0',
  })
}

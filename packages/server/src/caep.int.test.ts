// CAEP Security Event Tokens pushed to a real server (RFC 8935), signed with the issuer's real
// keys: applied as revocations at once, recorded, applied once per SET, and refused in RFC 8935's
// form when they are not the issuer's, not for this server, or not SETs.
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SESSION_REVOKED, TOKEN_CLAIMS_CHANGE } from './caep.js'
import type { GovernanceEvent } from './governance.js'
import { ISSUER, type LiveHarness, accessRecords, bearer, expectProblem, liveHarness, signingKey } from './testing/fixture.js'

let now = Date.parse('2030-01-01T00:00:00.250Z')
let h: LiveHarness
let events: GovernanceEvent[]

beforeEach(async () => {
  now = Date.parse('2030-01-01T00:00:00.250Z')
  events = []
  h = await liveHarness({ app: { clock: () => new Date(now), onGovernanceEvent: (event) => events.push(event) } })
  await h.ledger.createLog('audit')
})

afterEach(async () => {
  await h?.close()
})

/** A SET as the issuer signs it; `claims` and `header` override the defaults. */
function set(events: Record<string, unknown>, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  return h.mint.signed({ typ: 'secevent+jwt', ...header }, {
    iss: ISSUER, aud: h.audience, jti: randomUUID(), iat: Math.floor(now / 1000), events, ...claims,
  })
}

function push(jwt: string, contentType = 'application/secevent+jwt'): Promise<Response> {
  return fetch(h.url('/v1/ssf/events'), { method: 'POST', body: jwt, headers: { 'Content-Type': contentType, Accept: 'application/json' } })
}

const read = async (bearerToken: string) => fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(bearerToken) })
const iatNow = () => Math.floor(now / 1000)
const sessionRevoked = (subject: unknown) => set({ [SESSION_REVOKED]: { event_timestamp: iatNow() } }, { sub_id: subject })

async function expectSetError(response: Response, err: string): Promise<void> {
  expect(response.status).toBe(400)
  expect(response.headers.get('content-type')).toMatch(/^application\/json/)
  expect(await response.json()).toEqual({ err, description: expect.any(String) })
}

describe('pushed CAEP events', () => {
  it('session-revoked for a user refuses the tokens issued before it, at once; newer ones work', async () => {
    const alice = await h.mint.token({ scope: 'log:read', claims: { sub: 'alice' } })
    const bob = await h.mint.token({ scope: 'log:read', claims: { sub: 'bob' } })
    expect((await read(alice)).status).toBe(200)
    now += 1000
    const jwt = await sessionRevoked({ format: 'iss_sub', iss: ISSUER, sub: 'alice' })
    const pushed = await push(jwt)
    expect([pushed.status, await pushed.text()]).toEqual([202, ''])
    await expectProblem(await read(alice), 401, 'TOKEN_INVALID')
    expect((await read(bob)).status).toBe(200)
    now += 1000
    expect((await read(await h.mint.token({ scope: 'log:read', claims: { sub: 'alice' } }))).status).toBe(200)

    // A replay is answered alike and applied once.
    const replayed = await push(jwt)
    expect(replayed.status).toBe(202)
    const records = await accessRecords(h.ledger)
    const governance = records.filter((record) => record.type === 'annal.governance/v1')
    expect(governance).toHaveLength(1)
    expect(governance[0]).toMatchObject({
      action: 'security-event', issuer: ISSUER, set: { events: [SESSION_REVOKED] }, request_id: pushed.headers.get('x-request-id'),
      revocations: [{ sub: 'alice', source: 'caep', reason: 'session-revoked', issued_before: '2030-01-01T00:00:01.000Z' }],
    })
    expect(records.find((record) => record.request_id === pushed.headers.get('x-request-id'))).toMatchObject({
      type: 'annal.access/v1', route: '/v1/ssf/events', status: 202,
    })
    expect(records.find((record) => record.request_id === replayed.headers.get('x-request-id'))).toMatchObject({ status: 202, replayed: true })
    expect(events.map((event) => event.kind)).toEqual(['revocation-added', 'revoked-token-used'])

    await h.restart()
    await expectProblem(await read(alice), 401, 'TOKEN_INVALID')
    expect((await push(jwt)).status).toBe(202)
    expect((await accessRecords(h.ledger)).filter((record) => record.type === 'annal.governance/v1')).toHaveLength(1)
  })

  it('token-claims-change for one token (jwt_id), and session-revoked for a user of one client (complex)', async () => {
    const changed = await h.mint.token({ scope: 'log:read', claims: { jti: 'token-7' } })
    const kept = await h.mint.token({ scope: 'log:read' })
    const mobile = await h.mint.token({ scope: 'log:read', claims: { sub: 'carol', client_id: 'mobile' } })
    const web = await h.mint.token({ scope: 'log:read', claims: { sub: 'carol', client_id: 'web' } })
    const claimsChanged = await set({ [TOKEN_CLAIMS_CHANGE]: { claims: { role: 'reader' }, reason_admin: { en: 'demoted' } } },
      { sub_id: { format: 'jwt_id', iss: ISSUER, jti: 'token-7' } })
    expect((await push(claimsChanged)).status).toBe(202)
    expect((await push(await sessionRevoked({
      format: 'complex', user: { format: 'iss_sub', iss: ISSUER, sub: 'carol' }, application: { format: 'opaque', id: 'mobile' },
      device: { format: 'opaque', id: 'phone-1' },
    }))).status).toBe(202)
    await expectProblem(await read(changed), 401, 'TOKEN_INVALID')
    await expectProblem(await read(mobile), 401, 'TOKEN_INVALID')
    expect((await read(kept)).status).toBe(200)
    expect((await read(web)).status).toBe(200)
    // An event type this server does not act on is accepted and recorded, without effect.
    const verification = await push(await set({ 'https://schemas.openid.net/secevent/ssf/event-type/verification': { state: 's1' } }))
    expect(verification.status).toBe(202)
    expect((await accessRecords(h.ledger)).find((record) => record.type === 'annal.governance/v1'
      && record.request_id === verification.headers.get('x-request-id'))).toMatchObject({ revocations: [] })
    const admin = await h.mint.token({ scope: 'log:admin' })
    const listed = await fetch(h.url('/v1/admin/revocations'), { headers: bearer(admin) })
    const { revocations } = (await listed.json()) as { revocations: unknown[] }
    expect(revocations).toHaveLength(2)
    expect(revocations).toEqual(expect.arrayContaining([
      expect.objectContaining({ jti: 'token-7', reason: 'demoted', source: 'caep', active: true }),
      expect.objectContaining({ sub: 'carol', client_id: 'mobile', source: 'caep', active: true }),
    ]))
  })

  it('refuses, in RFC 8935 form, SETs not signed by the issuer, from another issuer, for another audience, or malformed', async () => {
    const alice = { format: 'iss_sub', iss: ISSUER, sub: 'alice' }
    const revoked = { [SESSION_REVOKED]: {} }
    const stranger = await signingKey('ES256')
    await expectSetError(await push(await h.mint.signed({ typ: 'secevent+jwt' },
      { iss: ISSUER, aud: h.audience, jti: 'j1', iat: iatNow(), sub_id: alice, events: revoked }, stranger)), 'invalid_key')
    await expectSetError(await push(await set(revoked, { sub_id: alice, iss: 'https://other.test' })), 'invalid_issuer')
    await expectSetError(await push(await set(revoked, { sub_id: alice, aud: 'https://other.test/' })), 'invalid_audience')
    await expectSetError(await push(await set(revoked, { sub_id: alice }, { typ: 'at+jwt' })), 'invalid_request')
    await expectSetError(await push(await set(revoked, { sub_id: alice }), 'application/json'), 'invalid_request')
    await expectSetError(await push('not a jwt'), 'invalid_request')
    await expectSetError(await push(await set(revoked, { sub_id: { format: 'email', email: 'a@example.com' } })), 'invalid_request')
    await expectSetError(await push(await set(revoked, { sub_id: { ...alice, iss: 'https://other.test' } })), 'invalid_request')
    await expectSetError(await push(await set({ [TOKEN_CLAIMS_CHANGE]: {} }, { sub_id: alice })), 'invalid_request')
    // An access token is no SET.
    await expectSetError(await push(await h.mint.token({ scope: 'log:read' })), 'invalid_request')

    const records = await accessRecords(h.ledger)
    expect(records.filter((record) => record.type === 'annal.governance/v1')).toEqual([])
    expect(records.filter((record) => record.route === '/v1/ssf/events').map((record) => [record.status, record.code]))
      .toEqual(new Array(10).fill([400, 'SET_INVALID']))
    expect(records.find((record) => record.route === '/v1/ssf/events')?.reason).toBe('invalid_key')
    expect((await read(await h.mint.token({ scope: 'log:read', claims: { sub: 'alice' } }))).status).toBe(200)
  })
})

describe('SET replay ids', () => {
  it('are let go once their SETs are too old to accept, and such SETs are refused', async () => {
    await h.close()
    const start = now
    h = await liveHarness({ auth: { securityEventMaxAgeSeconds: 600 }, app: { clock: () => new Date(now) } })
    const kept = async () => {
      const keys: string[] = []
      for await (const [key] of h.ledger.table('governance').rows('set:')) keys.push(key)
      return keys
    }
    const alice = { format: 'iss_sub', iss: ISSUER, sub: 'alice' }
    const first = await sessionRevoked(alice)
    expect((await push(first)).status).toBe(202)
    expect(await kept()).toHaveLength(1)
    // The last second the SET is accepted (600 s and the 30 s of clock tolerance): still a replay.
    now = start + 630_000
    const replayed = await push(first)
    expect(replayed.status).toBe(202)
    now += 1000
    await expectSetError(await push(first), 'invalid_request')
    expect(await kept()).toHaveLength(1)
    // The next SET applied lets the first one's id go.
    const second = await sessionRevoked(alice)
    expect((await push(second)).status).toBe(202)
    const [secondKey] = await kept()
    expect(await kept()).toEqual([secondKey])
    await h.restart()
    expect(await kept()).toEqual([secondKey])
    expect((await push(second)).status).toBe(202)
    // Opening lets go of the ids that fell out of the window meanwhile.
    now += 631_000
    await h.restart()
    expect(await kept()).toEqual([])
    const records = await accessRecords(h.ledger)
    expect(records.filter((record) => record.type === 'annal.governance/v1')).toHaveLength(2)
    expect(records.find((record) => record.request_id === replayed.headers.get('x-request-id'))).toMatchObject({ replayed: true })
  })
})

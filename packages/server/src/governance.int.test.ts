// Scope rotation, revocations and ceilings on a real server over the wire: real signed tokens, a
// clock the tests move, every change read back from the access log and kept across a restart.
import { afterEach, describe, expect, it } from 'vitest'
import { type AppOptions, appAlerts } from './app.js'
import type { GovernanceEvent } from './governance.js'
import { ceilingSets } from './ceilings.js'
import { type LiveHarness, type MintOptions, accessRecords, bearer, expectProblem, liveHarness } from './testing/fixture.js'

const START = Date.parse('2030-01-01T00:00:00.250Z')
let now = START
let h: LiveHarness
let events: GovernanceEvent[]

async function start(app: Partial<AppOptions> = {}): Promise<void> {
  now = START
  events = []
  h = await liveHarness({ app: { clock: () => new Date(now), onGovernanceEvent: (event) => events.push(event), ...app } })
  await h.ledger.createLog('audit')
  await h.ledger.createLog('payments')
}

afterEach(async () => {
  await h?.close()
})

function token(scope: string, options: MintOptions = {}): Promise<string> {
  return h.mint.token({ scope, expiresIn: 3600, ...options })
}

async function send(method: string, path: string, bearerToken: string, body?: unknown): Promise<Response> {
  return fetch(h.url(path), {
    method, headers: { ...bearer(bearerToken), 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
}

const append = (log: string, bearerToken: string) => send('POST', `/v1/logs/${log}/entries`, bearerToken, { event: 'e' })
const read = (log: string, bearerToken: string) => send('GET', `/v1/logs/${log}/entries`, bearerToken)

/** The access-log records of the response's request, in log order. */
async function recordsOf(response: Response): Promise<Record<string, any>[]> {
  const id = response.headers.get('x-request-id')
  return (await accessRecords(h.ledger)).filter((record) => record.request_id === id)
}

describe('scope rotation', () => {
  it('takes the scope from older tokens only, says so, records who and why, and survives a restart', async () => {
    await start()
    const admin = await token('log:admin')
    const old = await token('log:append log:read log:append:payments')
    expect((await append('audit', old)).status).toBe(201)
    now += 2000
    const rotated = await send('POST', '/v1/admin/scopes/log:append/rotate', admin, { reason: 'an appender key leaked' })
    expect(rotated.status).toBe(200)
    expect(await rotated.json()).toMatchObject({ scope: 'log:append', rotated_at: new Date(now).toISOString(), reason: 'an appender key leaked' })

    const refused = await append('audit', old)
    const problem = await expectProblem(refused, 403, 'INSUFFICIENT_SCOPE')
    expect(problem.detail).toBe('the scope log:append was rotated; this route needs a token issued after that')
    expect(refused.headers.get('www-authenticate')).toContain(
      'error="insufficient_scope", scope="log:append:audit", error_description="the scope log:append was rotated')
    // Rotating the unsuffixed scope covers its per-log forms; the token's other scopes keep working.
    await expectProblem(await append('payments', old), 403, 'INSUFFICIENT_SCOPE')
    expect((await read('audit', old)).status).toBe(200)
    now += 1000
    const fresh = await token('log:append')
    expect((await append('audit', fresh)).status).toBe(201)

    const [access, record] = await recordsOf(rotated) as [Record<string, any>, Record<string, any>]
    expect(access).toMatchObject({ type: 'annal.access/v1', status: 200, authorized_by: 'log:admin', actor: { sub: 'user-1' } })
    expect(record).toEqual({
      type: 'annal.governance/v1', action: 'rotate-scope', scope: 'log:append', reason: 'an appender key leaked',
      request_id: access.request_id, time: new Date(START + 2000).toISOString(),
    })
    expect((await recordsOf(refused))[0]).toMatchObject({ status: 403, reason: 'scope_rotated', code: 'INSUFFICIENT_SCOPE' })
    expect(events.map((event) => event.kind)).toEqual(['scope-rotated', 'rotated-scope-used', 'rotated-scope-used'])

    await h.restart()
    await expectProblem(await append('audit', old), 403, 'INSUFFICIENT_SCOPE')
    expect((await append('audit', fresh)).status).toBe(201)
  })

  it('of a per-log scope takes only that log, from any older scope that reached it', async () => {
    await start()
    const admin = await token('log:admin')
    const old = await token('log:append')
    now += 2000
    expect((await send('POST', '/v1/admin/scopes/log:append:payments/rotate', admin, { reason: 'payments audit' })).status).toBe(200)
    await expectProblem(await append('payments', old), 403, 'INSUFFICIENT_SCOPE')
    expect((await append('audit', old)).status).toBe(201)
  })

  it('of audit:read hides the access log\'s size from older tokens', async () => {
    await start()
    const auditor = await token('audit:read')
    const accessSize = async (bearerToken: string) => {
      const response = await send('GET', '/v1/logs', bearerToken)
      expect(response.status).toBe(200)
      return ((await response.json()) as { logs: { name: string; size?: number }[] }).logs.find((log) => log.name === 'access')!.size
    }
    expect(await accessSize(auditor)).toEqual(expect.any(Number))
    now += 2000
    expect((await send('POST', '/v1/admin/scopes/audit:read/rotate', await token('log:admin'), { reason: 'auditor left' })).status).toBe(200)
    expect(await accessSize(auditor)).toBeUndefined()
    await expectProblem(await read('access', auditor), 403, 'INSUFFICIENT_SCOPE')
    now += 1000
    expect(await accessSize(await token('audit:read'))).toEqual(expect.any(Number))
  })

  it('refuses what is not an Annal scope, a missing reason and a caller without log:admin, changing nothing', async () => {
    await start()
    const admin = await token('log:admin')
    await expectProblem(await send('POST', '/v1/admin/scopes/openid/rotate', admin, { reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await send('POST', '/v1/admin/scopes/log:append:Bad/rotate', admin, { reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await send('POST', '/v1/admin/scopes/log:read/rotate', admin, {}), 400, 'REQUEST_MALFORMED')
    // A lone surrogate (JSON.stringify escapes it) cannot be written as canonical JSON: refused, naming the field.
    const lone = await expectProblem(await send('POST', '/v1/admin/scopes/log:read/rotate', admin, { reason: 'key \ud800 leaked' }),
      400, 'REQUEST_MALFORMED')
    expect(lone.detail).toMatch(/^reason /)
    await expectProblem(await send('POST', '/v1/admin/scopes/log:read/rotate', await token('log:admin:audit'), { reason: 'r' }),
      403, 'INSUFFICIENT_SCOPE')
    const records = await accessRecords(h.ledger)
    expect(records.filter((record) => record.type === 'annal.governance/v1')).toEqual([])
    expect((await read('audit', await token('log:read'))).status).toBe(200)
  })
})

describe('revocations', () => {
  it('by jti refuse a token already in the verification cache at once, until lifted', async () => {
    await start()
    const admin = await token('log:admin')
    const revoked = await token('log:read')
    const other = await token('log:read')
    expect((await read('audit', revoked)).status).toBe(200)
    const jti = JSON.parse(Buffer.from(revoked.split('.')[1]!, 'base64url').toString()).jti as string

    const created = await send('POST', '/v1/admin/revocations', admin, { jti, reason: 'laptop stolen' })
    expect(created.status).toBe(201)
    const revocation = await created.json() as Record<string, any>
    expect(revocation).toMatchObject({ jti, reason: 'laptop stolen', source: 'admin', active: true })
    expect(created.headers.get('location')).toBe(`/v1/admin/revocations/${revocation.id}`)

    const refused = await read('audit', revoked)
    await expectProblem(refused, 401, 'TOKEN_INVALID')
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token", error_description="the access token was revoked"')
    expect((await recordsOf(refused))[0]).toMatchObject({ status: 401, reason: 'revoked', actor: { sub: 'user-1' }, token: { jti } })
    expect((await read('audit', other)).status).toBe(200)

    const lifted = await send('DELETE', `/v1/admin/revocations/${revocation.id}`, admin, { reason: 'laptop found' })
    expect(lifted.status).toBe(200)
    expect(await lifted.json()).toMatchObject({ id: revocation.id, active: false, lift_reason: 'laptop found' })
    expect((await read('audit', revoked)).status).toBe(200)

    const governance = (await accessRecords(h.ledger)).filter((record) => record.type === 'annal.governance/v1')
    expect(governance.map((record) => [record.action, record.request_id])).toEqual([
      ['revoke', created.headers.get('x-request-id')], ['lift-revocation', lifted.headers.get('x-request-id')],
    ])
    expect(governance[1]).toMatchObject({ reason: 'laptop found', revocation: { id: revocation.id, lifted_at: expect.any(String) } })
    expect(events.map((event) => event.kind)).toEqual(['revocation-added', 'revoked-token-used', 'revocation-lifted'])
  })

  it('by client_id until a time, and by sub, and survive a restart', async () => {
    await start()
    const admin = await token('log:admin')
    const client2 = await token('log:read', { claims: { client_id: 'client-2' } })
    const user9 = await token('log:read', { claims: { sub: 'user-9', client_id: 'client-3' } })
    const bystander = await token('log:read')
    const until = new Date(now + 60_000).toISOString()
    expect((await send('POST', '/v1/admin/revocations', admin, { client_id: 'client-2', until, reason: 'client misbehaves' })).status)
      .toBe(201)
    expect((await send('POST', '/v1/admin/revocations', admin, { sub: 'user-9', reason: 'user left' })).status).toBe(201)
    await expectProblem(await read('audit', client2), 401, 'TOKEN_INVALID')
    await expectProblem(await read('audit', user9), 401, 'TOKEN_INVALID')
    expect((await read('audit', bystander)).status).toBe(200)

    await h.restart()
    await expectProblem(await read('audit', client2), 401, 'TOKEN_INVALID')
    const listed = await send('GET', '/v1/admin/revocations', admin)
    expect(((await listed.json()) as { revocations: Record<string, any>[] }).revocations.map((r) => [r.client_id ?? r.sub, r.active]))
      .toEqual(expect.arrayContaining([['client-2', true], ['user-9', true]]))
    now += 60_000
    expect((await read('audit', client2)).status).toBe(200)
    await expectProblem(await read('audit', user9), 401, 'TOKEN_INVALID')
  })

  it('refuse a malformed revocation, an unknown id and a caller without log:admin', async () => {
    await start()
    const admin = await token('log:admin')
    const post = (body: unknown, bearerToken = admin) => send('POST', '/v1/admin/revocations', bearerToken, body)
    await expectProblem(await post({ reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 'j' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 7, reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 'j', reason: 'r', until: 'tomorrow' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 'j', reason: 'r', until: new Date(now - 1000).toISOString() }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 'j', reason: 'r', scope: 'log:read' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await post({ jti: 'j', reason: 'r' }, await token('log:read')), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await send('DELETE', '/v1/admin/revocations/nope', admin, { reason: 'r' }), 404, 'REVOCATION_NOT_FOUND')
    for (const [field, body] of [['reason', { jti: 'j', reason: 'r\udc00' }], ['jti', { jti: '\ud800j', reason: 'r' }],
      ['client_id', { client_id: 'c\ud800', reason: 'r' }], ['sub', { sub: '\udfff', reason: 'r' }]] as const) {
      expect((await expectProblem(await post(body), 400, 'REQUEST_MALFORMED')).detail).toMatch(new RegExp(`^${field} `))
    }
    const created = await post({ jti: 'j', reason: 'r' })
    expect(created.status).toBe(201)
    const { id } = await created.json() as { id: string }
    const lone = await send('DELETE', `/v1/admin/revocations/${id}`, admin, { reason: '\ud83d' })
    expect((await expectProblem(lone, 400, 'REQUEST_MALFORMED')).detail).toMatch(/^reason /)
    expect((await accessRecords(h.ledger)).filter((record) => record.type === 'annal.governance/v1')
      .map((record) => record.action)).toEqual(['revoke'])
  })
})

describe('scope ceilings', () => {
  it('clamp a token to its client\'s ceiling, and record and tell what was cut', async () => {
    await start({ scopeCeilings: { 'client-1': ['log:read', 'log:append:audit'] } })
    const wide = await token('openid log:read:payments log:append log:append:audit log:admin')
    const refused = await append('payments', wide)
    await expectProblem(refused, 403, 'INSUFFICIENT_SCOPE')
    expect((await recordsOf(refused))[0]).toMatchObject({
      scopes: ['openid', 'log:read:payments', 'log:append:audit'], clamped_scopes: ['log:append', 'log:admin'],
    })
    expect((await append('audit', wide)).status).toBe(201)
    expect((await read('payments', wide)).status).toBe(200)
    // Another client has no ceiling.
    expect((await append('payments', await token('log:append', { claims: { client_id: 'client-2' } }))).status).toBe(201)
    expect(events.filter((event) => event.kind === 'scopes-clamped')).toHaveLength(3)
    expect(events[0]).toMatchObject({ kind: 'scopes-clamped', removed: ['log:append', 'log:admin'], token: { clientId: 'client-1' } })
  })

  it('must be lists of Annal scopes', () => {
    expect(() => ceilingSets({ c: ['log:read', 'openid'] })).toThrow(TypeError)
    expect(() => ceilingSets({ c: 'log:read' as unknown as string[] })).toThrow(TypeError)
    expect(ceilingSets({ c: ['log:read:audit'] }).get('c')).toEqual(new Set(['log:read:audit']))
  })
})

describe('governance alerts', () => {
  /** The alerts of `rule`, once `count` of them are written (they follow the answered request). */
  async function alertsOf(rule: string, count: number): Promise<Record<string, any>[]> {
    for (const deadline = Date.now() + 20_000; ;) {
      await appAlerts(h.app).caughtUp()
      const response = await fetch(h.url(`/v1/alerts?rule=${rule}`), { headers: bearer(h.auditor) })
      expect(response.status, await response.clone().text()).toBe(200)
      const alerts = ((await response.json()) as { alerts: { alert: Record<string, any> }[] }).alerts.map(({ alert }) => alert)
      if (alerts.length >= count || Date.now() > deadline) return alerts
      await appAlerts(h.app).changed()
    }
  }

  it('raise revoked_token once per revoked or rotated token, and scope_ceiling once per clamped token', async () => {
    await start({ scopeCeilings: { narrow: ['log:read'] } })
    const admin = await token('log:admin')
    const revoked = await token('log:read', { claims: { client_id: 'client-9' } })
    const jti = JSON.parse(Buffer.from(revoked.split('.')[1]!, 'base64url').toString()).jti as string
    expect((await send('POST', '/v1/admin/revocations', admin, { jti, reason: 'laptop stolen' })).status).toBe(201)
    const old = await token('log:append', { claims: { client_id: 'client-9' } })
    now += 2000
    expect((await send('POST', '/v1/admin/scopes/log:append/rotate', admin, { reason: 'leaked' })).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      expect((await read('audit', revoked)).status).toBe(401)
      expect((await append('audit', old)).status).toBe(403)
    }
    const used = await alertsOf('revoked_token', 2)
    expect(used.map((alert) => alert.summary).sort()).toEqual(['a revoked token was used', 'a token issued before log:append was rotated used it'])
    expect(used.every((alert) => alert.subject.client_id === 'client-9')).toBe(true)

    const wide = await token('log:read log:append', { claims: { client_id: 'narrow' } })
    for (let i = 0; i < 2; i++) expect((await read('audit', wide)).status).toBe(200)
    const clamped = await alertsOf('scope_ceiling', 1)
    expect(clamped).toHaveLength(1)
    expect(clamped[0]).toMatchObject({ subject: { client_id: 'narrow' }, details: { removed: ['log:append'] } })
    // Used again, none of them raises another: the alerts that a new revoked token and a new
    // clamped token raise after them are the only ones added.
    expect((await read('audit', revoked)).status).toBe(401)
    expect((await read('audit', wide)).status).toBe(200)
    const another = await token('log:read', { claims: { client_id: 'client-8' } })
    const anotherJti = JSON.parse(Buffer.from(another.split('.')[1]!, 'base64url').toString()).jti as string
    expect((await send('POST', '/v1/admin/revocations', admin, { jti: anotherJti, reason: 'also stolen' })).status).toBe(201)
    expect((await read('audit', another)).status).toBe(401)
    expect((await read('audit', await token('log:read log:admin', { claims: { client_id: 'narrow' } }))).status).toBe(200)
    const after = await alertsOf('revoked_token', 3)
    expect(after.map((alert) => alert.subject.client_id)).toEqual(['client-9', 'client-9', 'client-8'])
    expect(await alertsOf('scope_ceiling', 2)).toHaveLength(2)
  })
})

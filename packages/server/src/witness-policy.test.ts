// Per-log witness policies over HTTP against a real ledger: chosen at creation or by an admin
// call, recorded in the access log with who and why, and kept across a restart.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { Ledger } from '@annal/store'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type AnnalApp, type AppOptions, appWitnessing, createApp } from './app.js'
import type { WitnessConfig } from './witness-config.js'
import { AUDIENCE, ISSUER, Mint, accessRecords, bearer, expectProblem, jwksOf, signingKey } from './testing/fixture.js'

// Nothing listens on port 9 (discard): submissions fail, which these tests do not look at.
const witness = (name: string): WitnessConfig =>
  ({ name, url: 'http://127.0.0.1:9', verifierKey: generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey })
const W1 = witness('w1.policy.test')
const W2 = witness('w2.policy.test')

let directory: string
let ledger: Ledger
let app: AnnalApp
let mint: Mint
let auth: AppOptions['auth']

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-witness-policy-'))
  ledger = await Ledger.open(directory, { originPrefix: 'policy.test' })
  const key = await signingKey('ES256')
  mint = new Mint(key)
  auth = { issuer: ISSUER, audience: AUDIENCE, jwks: jwksOf(key) }
})

afterEach(async () => {
  await appWitnessing(app)?.close()
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

async function start(witnesses: WitnessConfig[], policy?: { k: number }): Promise<void> {
  await appWitnessing(app)?.close()
  app = await createApp({ ledger, auth, witnesses, ...(policy === undefined ? {} : { policy }), witnessing: { pollIntervalMs: 20 } })
}

async function call(method: string, path: string, body: unknown, scope = 'log:admin'): Promise<Response> {
  return app.request(path, {
    method, body: JSON.stringify(body), headers: { ...bearer(await mint.token({ scope })), 'Content-Type': 'application/json' },
  })
}

async function witnessingOf(log: string): Promise<Record<string, any> | null> {
  const response = await app.request(`/v1/logs/${log}`)
  expect(response.status).toBe(200)
  return ((await response.json()) as { witnessing: Record<string, any> | null }).witnessing
}

describe('per-log witness policies', () => {
  it('are chosen at creation or later, leave other logs unwitnessed, and survive a restart', async () => {
    await start([W1, W2], { k: 1 })
    const created = await call('POST', '/v1/logs', { name: 'payments', witnessing: { witnesses: [W1.name] } })
    expect(created.status).toBe(201)
    expect(await created.json()).toMatchObject({ name: 'payments', size: 0, witnessing: { k: 1, policy_met_size: null } })
    // A second log asks for nothing: its checkpoint is served as signed, not 503.
    expect((await call('POST', '/v1/logs', { name: 'plain' })).status).toBe(201)
    expect(await witnessingOf('plain')).toBeNull()
    const plain = await app.request('/v1/logs/plain/checkpoint')
    expect([plain.status, plain.headers.get('annal-policy')]).toEqual([200, null])

    const changed = await call('PUT', '/v1/logs/plain/witnessing', { witnessing: { k: 2 }, reason: 'two of two for plain' })
    expect(changed.status).toBe(200)
    expect((await changed.json() as { witnessing: unknown }).witnessing).toMatchObject({
      k: 2, witnesses: [
        { name: W1.name, configured: true, verifier_key: W1.verifierKey }, { name: W2.name, configured: true, verifier_key: W2.verifierKey },
      ],
    })
    const unmet = await expectProblem(await app.request('/v1/logs/plain/checkpoint'), 503, 'POLICY_UNMET')
    expect(unmet).toMatchObject({ policy: { k: 2, n: 2 }, latest_size: 0, see: '/v1/logs/plain' })

    // A restart with only W2: the policies come back from the ledger, W1 shown as not configured.
    await start([W2])
    expect(await witnessingOf('payments')).toMatchObject({
      k: 1, witnesses: [{ name: W1.name, configured: false, verifier_key: null, last_error: 'not a witness of this server' }],
    })
    expect(await witnessingOf('plain')).toMatchObject({ k: 2, witnesses: [{ name: W1.name, configured: false }, { name: W2.name }] })

    expect((await call('PUT', '/v1/logs/plain/witnessing', { witnessing: null, reason: 'no witnesses for plain' })).status).toBe(200)
    await start([])
    expect(await witnessingOf('plain')).toBeNull()
    expect((await app.request('/v1/logs/plain/checkpoint')).status).toBe(200)
    // Payments still has its policy, which no configured witness can meet.
    await expectProblem(await app.request('/v1/logs/payments/checkpoint'), 503, 'POLICY_UNMET')
  })

  it('record each change in the access log: who in the access record, what and why beside it, in one write', async () => {
    await start([W1, W2])
    const created = await call('POST', '/v1/logs', { name: 'payments', witnessing: {} })
    const changed = await call('PUT', '/v1/logs/payments/witnessing', { witnessing: { witnesses: [W2.name], k: 1 }, reason: 'w1 retired' },
      'log:admin:payments')
    expect([created.status, changed.status]).toEqual([201, 200])
    const records = await accessRecords(ledger)
    const id = changed.headers.get('x-request-id')
    const at = records.findIndex((record) => record.request_id === id)
    expect(records.slice(at)).toEqual([
      expect.objectContaining({ type: 'annal.access/v1', method: 'PUT', route: '/v1/logs/:log/witnessing', log: 'payments', status: 200,
        authorized_by: 'log:admin:payments', actor: expect.objectContaining({ sub: 'user-1' }) }),
      { type: 'annal.witnessing/v1', log: 'payments', policy: { witnesses: [W2.name], k: 1 }, reason: 'w1 retired', request_id: id,
        time: expect.any(String) },
    ])
    expect(records.filter((record) => record.request_id === created.headers.get('x-request-id'))).toEqual([
      expect.objectContaining({ type: 'annal.access/v1', status: 201 }),
      expect.objectContaining({ type: 'annal.witnessing/v1', policy: { witnesses: [W1.name, W2.name], k: 2 } }),
    ])
  })

  it('refuse what cannot be a policy, and record nothing for it', async () => {
    await start([W1, W2])
    expect((await call('POST', '/v1/logs', { name: 'payments' })).status).toBe(201)
    const size = ledger.log('access').size
    const put = (body: unknown, scope?: string) => call('PUT', '/v1/logs/payments/witnessing', body, scope)
    await expectProblem(await put({ witnessing: {} }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ witnessing: {}, reason: ' ' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ witnessing: { k: 3 }, reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ witnessing: { witnesses: [] }, reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ witnessing: { witnesses: [W1.name, W1.name] }, reason: 'r' }), 400, 'REQUEST_MALFORMED')
    await expectProblem(await put({ witnessing: { quorum: 1 }, reason: 'r' }), 400, 'REQUEST_MALFORMED')
    const unknown = await expectProblem(await put({ witnessing: { witnesses: [W1.name, 'other.test'] }, reason: 'r' }), 400, 'WITNESS_UNKNOWN')
    expect(unknown.detail).toBe('witnessing.witnesses[1] is not a witness of this server')
    await expectProblem(await put({ witnessing: {}, reason: 'r' }, 'log:admin:other'), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await call('PUT', '/v1/logs/nope/witnessing', { witnessing: {}, reason: 'r' }), 404, 'LOG_NOT_FOUND')
    // Each refusal has its access record, and nothing else was written.
    expect(ledger.log('access').size).toBe(size + 10)
    expect(await witnessingOf('payments')).toBeNull()
    await start([])
    await expectProblem(await put({ witnessing: {}, reason: 'r' }), 400, 'WITNESS_UNKNOWN')
    await expectProblem(await call('POST', '/v1/logs', { name: 'other', witnessing: {} }), 400, 'WITNESS_UNKNOWN')
    expect(ledger.logs().map((log) => log.name)).not.toContain('other')
  })
})

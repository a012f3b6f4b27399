import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseSignerKey, signCheckpoint } from '@annal/note'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { appAlerts } from './app.js'
import type { AlertsOptions } from './alerts.js'
import { NODE_PROVIDERS } from './witness-config.js'
import { SPLIT_VIEW_TYPE } from './witness-evidence.js'
import { type LiveHarness, bearer, expectProblem, liveHarness } from './testing/fixture.js'
import { type Answer, Receiver } from './testing/receiver.js'

const SECRET = `whsec_${Buffer.from('annal test webhook secret, 32 b').toString('base64')}`
let h: LiveHarness
let now: number
const receivers: Receiver[] = []

async function start(alerts: AlertsOptions = {}): Promise<void> {
  now = Date.now()
  h = await liveHarness({ app: { clock: () => new Date(now), alerts: { pollIntervalMs: 10, ...alerts } } })
  const admin = await h.mint.token({ scope: 'log:admin' })
  expect((await post('/v1/logs', { name: 'audit' }, admin)).status).toBe(201)
  // Its admin_change alert is written before any test looks: a stream opened now sees only later ones.
  await appAlerts(h.app).caughtUp()
}

async function receiver(answer?: Answer): Promise<Receiver> {
  const started = await Receiver.start(answer)
  receivers.push(started)
  return started
}

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()))
  await h?.close()
})

function post(path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(h.url(path), {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...(token === undefined ? {} : bearer(token)) },
  })
}

/** The alerts of `rule` once every access record so far is evaluated. */
async function alertsOf(rule: string): Promise<Record<string, any>[]> {
  await appAlerts(h.app).caughtUp()
  const response = await fetch(h.url(`/v1/alerts?rule=${rule}`), { headers: bearer(h.auditor) })
  expect(response.status).toBe(200)
  return ((await response.json()) as { alerts: { alert: Record<string, any> }[] }).alerts.map(({ alert }) => alert)
}

describe('alert rules over real requests', () => {
  it('raise insufficient_scope at the count within the window only', async () => {
    await start({ rules: { insufficientScope: { count: 3, windowMs: 60_000 } } })
    const reader = await h.mint.token({ scope: 'log:read', claims: { client_id: 'prober' } })
    for (let i = 0; i < 2; i++) expect((await post('/v1/logs/audit/entries', {}, reader)).status).toBe(403)
    now += 61_000
    expect((await post('/v1/logs/audit/entries', {}, reader)).status).toBe(403)
    expect(await alertsOf('insufficient_scope')).toEqual([])
    expect((await post('/v1/logs/audit/entries', {}, reader)).status).toBe(403)
    expect(await alertsOf('insufficient_scope')).toEqual([])
    expect((await post('/v1/logs/audit/entries', {}, reader)).status).toBe(403)
    const [alert] = await alertsOf('insufficient_scope')
    expect(alert).toMatchObject({ type: 'annal.alert/v1', subject: { client_id: 'prober', sub: 'user-1' } })
  })

  it('raise invalid_token per address at the count', async () => {
    await start({ rules: { invalidToken: { count: 3, windowMs: 60_000 } } })
    const bad = `${await h.mint.token({ scope: 'log:read' })}x`
    for (let i = 0; i < 2; i++) expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(bad) })).status).toBe(401)
    expect(await alertsOf('invalid_token')).toEqual([])
    expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(bad) })).status).toBe(401)
    expect(await alertsOf('invalid_token')).toMatchObject([{ subject: { remote_address: '127.0.0.1' } }])
  })

  it('raise admin_change for changes, not reads, and first_append once per client and log', async () => {
    await start()
    expect(await alertsOf('admin_change')).toMatchObject([{ subject: { client_id: 'client-1', log: 'audit' },
      details: { method: 'POST', route: '/v1/logs', status: 201 } }])
    expect((await fetch(h.url('/v1/admin/scope-review'), { headers: bearer(h.auditor) })).status).toBe(200)
    const appender = await h.mint.token({ scope: 'log:append' })
    const other = await h.mint.token({ scope: 'log:append', claims: { client_id: 'client-2' } })
    for (const token of [appender, appender, other]) expect((await post('/v1/logs/audit/entries', { n: 1 }, token)).status).toBe(201)
    expect(await alertsOf('admin_change')).toHaveLength(1)
    expect((await alertsOf('first_append')).map((alert) => alert.subject)).toEqual([
      { client_id: 'client-1', sub: 'user-1', log: 'audit' }, { client_id: 'client-2', sub: 'user-1', log: 'audit' },
    ])
  })

  it('raise rate when a principal goes over k times its own baseline', async () => {
    await start({ rules: { rate: { bucketMs: 10_000, factor: 3, minCount: 4, warmupBuckets: 3, smoothing: 0.5 } } })
    const reader = await h.mint.token({ scope: 'log:read', claims: { client_id: 'busy' } })
    const read = async (count: number) => {
      for (let i = 0; i < count; i++) expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(reader) })).status).toBe(200)
    }
    now = Math.ceil(now / 10_000) * 10_000
    for (let bucket = 0; bucket < 3; bucket++) {
      await read(1)
      now += 10_000
    }
    await read(3)
    expect(await alertsOf('rate')).toEqual([])
    await read(1)
    expect(await alertsOf('rate')).toMatchObject([{ subject: { client_id: 'busy' }, details: { count: 4, baseline: 1 } }])
  })

  it('keep their burst windows and rate baselines across a restart', async () => {
    await start({
      rules: {
        insufficientScope: { count: 3, windowMs: 60_000 }, invalidToken: { count: 3, windowMs: 60_000 },
        rate: { bucketMs: 10_000, factor: 3, minCount: 4, warmupBuckets: 3, smoothing: 0.5 },
      },
    })
    const prober = await h.mint.token({ scope: 'log:read', claims: { client_id: 'prober' }, expiresIn: 3600 })
    const busy = await h.mint.token({ scope: 'log:read', claims: { client_id: 'busy' }, expiresIn: 3600 })
    const bad = `${await h.mint.token({ scope: 'log:read' })}x`
    now = Math.ceil(now / 10_000) * 10_000
    for (let bucket = 0; bucket < 3; bucket++) {
      expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(busy) })).status).toBe(200)
      now += 10_000
    }
    for (let i = 0; i < 2; i++) {
      expect((await post('/v1/logs/audit/entries', {}, prober)).status).toBe(403)
      expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(bad) })).status).toBe(401)
    }
    await appAlerts(h.app).caughtUp()
    await h.restart()
    expect((await post('/v1/logs/audit/entries', {}, prober)).status).toBe(403)
    expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(bad) })).status).toBe(401)
    for (let i = 0; i < 4; i++) expect((await fetch(h.url('/v1/logs/audit/entries'), { headers: bearer(busy) })).status).toBe(200)
    expect(await alertsOf('insufficient_scope')).toMatchObject([{ subject: { client_id: 'prober' } }])
    expect(await alertsOf('invalid_token')).toMatchObject([{ subject: { remote_address: '127.0.0.1' } }])
    expect(await alertsOf('rate')).toMatchObject([{ subject: { client_id: 'busy' }, details: { count: 4, baseline: 1 } }])
  })

  it('raise witness_split_view once for evidence signed by the log, and refuse what does not verify', async () => {
    await start()
    const info = h.ledger.log('audit').info
    const signer = parseSignerKey((await readFile(join(h.directory, 'keys', 'audit.key'), 'utf8')).trim(), { providers: NODE_PROVIDERS })
    const note = (byte: number) => signCheckpoint({ origin: info.origin, size: 5, rootHash: new Uint8Array(32).fill(byte), extensions: [] }, signer)
    const evidence = (a: string, b: string) => ({
      type: SPLIT_VIEW_TYPE, witness: 'w1', verifier_key: 'w1+00000000+x',
      evidence: { origin: info.origin, kind: 'same-size-different-roots', size: 5, checkpoints: [{ note: a }, { note: b }] },
    })
    const first = await post('/v1/alerts/witness-evidence', evidence(note(1), note(2)))
    expect(first.status).toBe(201)
    expect((await post('/v1/alerts/witness-evidence', evidence(note(2), note(1)))).status).toBe(200)
    await expectProblem(await post('/v1/alerts/witness-evidence', evidence(note(1), note(1))), 400, 'EVIDENCE_INVALID')
    const forged = note(3).replace(/— .*\n$/, '— x 0000\n')
    await expectProblem(await post('/v1/alerts/witness-evidence', evidence(note(1), forged)), 400, 'EVIDENCE_INVALID')
    expect(await alertsOf('witness_split_view')).toMatchObject([{ subject: { log: 'audit', origin: info.origin }, details: { sizes: [5, 5] } }])
  })
})

describe('delivery', () => {
  it('streams alerts to an SSE client, and replays from Last-Event-ID', async () => {
    await start()
    const response = await fetch(h.url('/v1/alerts/stream'), { headers: bearer(h.auditor) })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const admin = await h.mint.token({ scope: 'log:admin' })
    expect((await post('/v1/logs', { name: 'other' }, admin)).status).toBe(201)
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    while (!text.includes('\n\n')) text += (await reader.read()).value
    await reader.cancel()
    expect(text).toMatch(/^event: alert\ndata: \{.*"rule":"admin_change".*\nid: 1\n/)
    const replay = await fetch(h.url('/v1/alerts/stream'), { headers: { ...bearer(h.auditor), 'Last-Event-ID': '0' } })
    const replayed = replay.body!.pipeThrough(new TextDecoderStream()).getReader()
    let again = ''
    while (!again.includes('\n\n')) again += (await replayed.read()).value
    await replayed.cancel()
    expect(again).toMatch(/\nid: 1\n/)
    await expectProblem(await fetch(h.url('/v1/alerts/stream'), { headers: bearer(await h.mint.token({ scope: 'log:read' })) }),
      403, 'INSUFFICIENT_SCOPE')
  })

  it('signs webhooks per Standard Webhooks, delivers after an outage, and stops at 410', async () => {
    const up = await receiver()
    const down = await receiver()
    await down.stop()
    const gone = await receiver(() => ({ status: 410 }))
    await start({ webhooks: [up, down, gone].map((r) => ({ url: r.url, secret: SECRET })), webhookTiming: { backoffMs: 20, maxBackoffMs: 200 } })
    const [delivered] = await up.until(1)
    const headers = delivered!.headers as Record<string, string>
    const verified = new Webhook(SECRET).verify(delivered!.body, headers) as Record<string, any>
    expect(verified).toMatchObject({ type: 'annal.alert.admin_change', data: { log: 'alerts', index: 0, alert: { rule: 'admin_change' } } })
    expect(() => new Webhook(SECRET).verify(delivered!.body.replace('admin_change', 'first_append'), headers)).toThrow()
    await gone.until(1)
    await down.listen()
    const [late] = await down.until(1)
    expect(late!.body).toBe(delivered!.body)
    expect(late!.headers['webhook-id']).toBe(headers['webhook-id'])
    new Webhook(SECRET).verify(late!.body, late!.headers as Record<string, string>)
    const admin = await h.mint.token({ scope: 'log:admin' })
    expect((await post('/v1/logs', { name: 'second' }, admin)).status).toBe(201)
    await up.until(2)
    await down.until(2)
    expect(gone.received).toHaveLength(1)
  })

  it('waits as Retry-After says rather than its own backoff', async () => {
    // A backoff of an hour: only the receiver's Retry-After can bring the second attempt.
    const busy = await receiver((n: number) => (n === 0 ? { status: 503, headers: { 'Retry-After': '0' } } : { status: 200 }))
    await start({ webhooks: [{ url: busy.url, secret: SECRET }], webhookTiming: { backoffMs: 3_600_000 } })
    const [first, second] = await busy.until(2)
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id'])
  })
})

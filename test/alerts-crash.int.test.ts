// Alerts survive a kill -9 of `annal serve` and a receiver outage: the outbox rows are written
// with the alerts, so the next start delivers every alert, signed per Standard Webhooks.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterEach, expect, it } from 'vitest'
import { TestAuthServer } from '../packages/server/src/testing/auth-server.js'
import { Mint, bearer, jwksOf, signingKey } from '../packages/server/src/testing/fixture.js'
import { Receiver } from '../packages/server/src/testing/receiver.js'
import { killStarted, startAnnal } from './process.js'

const ISSUER = 'https://issuer.alerts.test'
const AUDIENCE = 'https://annal.alerts.test/'
const READY = /serving .* on (http:\/\/127\.0\.0\.1:\d+)\n/
const SECRET = `whsec_${Buffer.from('a secret of the alerts test, 32b').toString('base64')}`
const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  await killStarted()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

it('delivers every alert after the server was killed with -9 while the receiver was down', async () => {
  const key = await signingKey('ES256')
  const mint = new Mint(key, ISSUER, AUDIENCE)
  const authServer = await TestAuthServer.start(jwksOf(key))
  cleanups.push(() => authServer.close())
  const receiver = await Receiver.start()
  cleanups.push(() => receiver.stop())
  await receiver.stop()
  const directory = await mkdtemp(join(tmpdir(), 'annal-alerts-crash-'))
  cleanups.push(() => rm(directory, { recursive: true, force: true }))
  await writeFile(join(directory, 'hook.secret'), `${SECRET}\n`, { mode: 0o600 })
  await writeFile(join(directory, 'config.json'), JSON.stringify({
    alerts: { webhooks: [{ url: receiver.url, secretFile: join(directory, 'hook.secret') }], backoffMs: 20, maxBackoffMs: 200 },
  }))
  const args = ['serve', '--data', join(directory, 'ledger'), '--port', '0', '--issuer', ISSUER, '--audience', AUDIENCE,
    '--jwks-url', authServer.jwksUrl, '--config', join(directory, 'config.json')]
  const first = startAnnal(args, READY)
  const url = (await first.matched)[1]!
  const json = { 'Content-Type': 'application/json' }
  const admin = bearer(await mint.token({ scope: 'log:admin' }))
  expect((await fetch(`${url}/v1/logs`, { method: 'POST', body: '{"name":"audit"}', headers: { ...admin, ...json } })).status).toBe(201)
  const append = bearer(await mint.token({ scope: 'log:append' }))
  expect((await fetch(`${url}/v1/logs/audit/entries`, { method: 'POST', body: '{"a":1}', headers: { ...append, ...json } })).status).toBe(201)
  const auditor = bearer(await mint.token({ scope: 'audit:read' }))
  const deadline = Date.now() + 20_000
  let listed: { alerts: { id: string; alert: { rule: string } }[] } = { alerts: [] }
  while (listed.alerts.length < 2) {
    if (Date.now() > deadline) throw new Error('the alerts were not raised')
    listed = await (await fetch(`${url}/v1/alerts`, { headers: auditor })).json() as typeof listed
  }
  expect(listed.alerts.map(({ alert }) => alert.rule)).toEqual(['admin_change', 'first_append'])
  first.child.kill('SIGKILL')
  await first.exited
  expect(receiver.received).toEqual([])

  await receiver.listen()
  const second = startAnnal(args, READY)
  await second.matched
  const delivered = await receiver.until(2)
  const verifier = new Webhook(SECRET)
  const bodies = delivered.map(({ body, headers }) => verifier.verify(body, headers as Record<string, string>) as { data: { index: number } })
  expect(bodies.map((body) => body.data.index)).toEqual([0, 1])
  expect(delivered.map(({ headers }) => headers['webhook-id'])).toEqual(listed.alerts.map(({ id }) => `msg_${id}`))
  const { stdout, stderr } = second.output()
  expect(stdout + stderr).not.toContain(SECRET.slice(6))
  second.child.kill('SIGTERM')
  expect(await second.exited).toBe(0)
})

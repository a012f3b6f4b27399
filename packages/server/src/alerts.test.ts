import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { accessRecordBytes } from './access-record.js'
import { Alerts } from './alerts.js'
import { ACCESS_LOG } from './scopes.js'

const NOW = Date.parse('2030-01-01T00:00:00Z')
const RULES = { rules: { insufficientScope: { count: 3, windowMs: 60_000 } } }
let directory: string
/** Numbers the requests: equal records would be one entry (the log keeps bytes once). */
let requestNumber = 0
let ledger: Ledger
const opened: Alerts[] = []

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-alerts-'))
  ledger = await Ledger.open(directory)
  await ledger.createLog(ACCESS_LOG)
})

afterEach(async () => {
  for (const alerts of opened.splice(0)) await alerts.close()
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

async function open(): Promise<Alerts> {
  const alerts = await Alerts.open(ledger, () => new Date(NOW), RULES)
  opened.push(alerts)
  return alerts
}

/** Appends `count` access records of `clientId`, refused as insufficient_scope or answered 200. */
async function requests(count: number, clientId: string, refused: boolean): Promise<void> {
  const leaves = Array.from({ length: count }, (_, i) => accessRecordBytes({
    time: new Date(NOW), requestId: `r${requestNumber + i}`, method: 'GET', route: '/v1/logs/:log/entries', log: 'audit',
    ...refused ? { status: 403, code: 'INSUFFICIENT_SCOPE', requiredScope: 'log:read:audit' } : { status: 200, authorizedBy: 'log:read' },
    principal: { iss: 'https://issuer.test', sub: 'user-1', clientId, scopes: ['log:append'], fingerprint: '0'.repeat(64), expiresAt: NOW + 3_600_000 },
  }))
  requestNumber += count
  await ledger.log(ACCESS_LOG).append(leaves)
}

async function insufficientScopeAlerts(alerts: Alerts): Promise<unknown[]> {
  const entries = await alerts.log.entries(0, alerts.log.size)
  return entries.map((entry) => JSON.parse(new TextDecoder().decode(entry.data)) as { rule: string; subject: unknown })
    .filter((alert) => alert.rule === 'insufficient_scope').map((alert) => alert.subject)
}

it('after a crash, rebuilds the burst windows from the last save and the records evaluated since, raising nothing twice', async () => {
  // Past one save of the rules' state (every 20,000 records), then a burst raised and one begun.
  await requests(20_000, 'steady', false)
  await requests(3, 'early', true)
  await requests(2, 'prober', true)
  const first = await open()
  await first.caughtUp()
  expect(await insufficientScopeAlerts(first)).toEqual([{ client_id: 'early', sub: 'user-1' }])
  // A crash: the first is never closed (closing saves the state), and a second follows the log.
  const second = await open()
  expect(second.evaluated).toBe(20_005)
  await requests(1, 'prober', true)
  await second.caughtUp()
  expect(await insufficientScopeAlerts(second)).toEqual([{ client_id: 'early', sub: 'user-1' }, { client_id: 'prober', sub: 'user-1' }])
})

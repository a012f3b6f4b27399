import { afterEach, expect, it } from 'vitest'
import { appAlerts } from '../../../server/src/app.js'
import { type LiveHarness, liveHarness } from '../../../server/src/testing/fixture.js'
import { writeHistory } from '../../../server/src/testing/history.js'
import { memoryIo } from '../io.js'
import { main } from '../main.js'

let h: LiveHarness | undefined

afterEach(async () => {
  await h?.close()
})

it('prints the server\'s scope review as a table and as JSON', async () => {
  h = await liveHarness()
  await writeHistory(h.ledger, { records: 200, clients: 1, subs: 1, days: 5, end: Date.now() })
  await appAlerts(h.app).caughtUp()
  const run = async (args: string[]) => {
    const io = memoryIo({ env: { ANNAL_TOKEN: h!.auditor } })
    return { code: await main(['scopes', 'review', '--url', h!.server.url, ...args], io), io }
  }
  const json = await run(['--json', '--since', '7d'])
  expect(json.code).toBe(0)
  const answer = JSON.parse(json.io.stdout) as { principals: { client_id: string; carried: string[]; suggested_ceiling: string[] }[] }
  const generated = answer.principals.find((p) => p.client_id === 'client-0')!
  expect(generated.carried.length).toBeGreaterThan(0)
  const table = await run([])
  expect(table.code).toBe(0)
  expect(table.io.stdout).toContain('client client-0  sub user-0')
  expect(table.io.stdout).toMatch(/scope +carried +last used +last refused/)
  expect(table.io.stdout).toContain(`suggested ceiling: ${generated.suggested_ceiling.join(' ')}`)
  const refused = await run(['--since', '1y'])
  expect(refused.code).not.toBe(0)
  expect(refused.io.stderr).toContain('since is a window')
})

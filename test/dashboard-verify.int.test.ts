// The dashboard's Verify (packages/dashboard/src/verify.ts) against a witnessed log: a real server
// and two real witnesses (runWitness: LevelDB, HTTP on 127.0.0.1, keys), with a 2-of-2 policy. The
// browser test covers a log without witnesses; this one the cosignature step, run under Node.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { Ledger } from '@annal/store'
import { type RunningWitness, runWitness } from '@annal/witness'
import { type AnnalApp, type RunningServer, appAlerts, appWitnessing, createApp, serve } from '@annal/server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestAuthServer } from '../packages/server/src/testing/auth-server.js'
import { Mint, jwksOf, signingKey } from '../packages/server/src/testing/fixture.js'
import { Api } from '../packages/dashboard/src/api.js'
import { type EntryView, type LogView, type Step, policyFromServer, verifyEntry } from '../packages/dashboard/src/verify.js'

const ISSUER = 'https://issuer.dashboard.test'
const AUDIENCE = 'http://annal.dashboard.test/'

let directory: string
let ledger: Ledger
let auth: TestAuthServer
let app: AnnalApp
let server: RunningServer
let api: Api
const witnesses: RunningWitness[] = []
const NAMES = ['w1.dashboard.test', 'w2.dashboard.test']

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-dashboard-verify-'))
  ledger = await Ledger.open(join(directory, 'ledger'), { originPrefix: 'annal.dashboard.test' })
  const logKey = (await ledger.createLog('audit')).verifierKey
  for (const name of NAMES) witnesses.push(await runWitness({ data: join(directory, name), name, logs: [logKey] }))
  const key = await signingKey('ES256')
  auth = await TestAuthServer.start(jwksOf(key))
  app = await createApp({
    ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: auth.jwksUrl },
    witnesses: witnesses.map((witness, i) => ({ name: NAMES[i]!, url: witness.url, verifierKey: witness.verifierKey })),
    witnessing: { pollIntervalMs: 20, timeoutMs: 1_000, backoffMs: 50, maxBackoffMs: 200 },
  })
  server = await serve(app)
  const mint = new Mint(key, ISSUER, AUDIENCE)
  const admin = await mint.token({ scope: 'log:admin log:append log:read', expiresIn: 3600 })
  api = new Api(admin, server.url)
  await api.request('/v1/logs/audit/witnessing', {
    method: 'PUT', body: JSON.stringify({ witnessing: {}, reason: 'both' }), headers: { 'Content-Type': 'application/json' },
  })
  for (const n of [0, 1, 2, 3, 4]) {
    await api.request('/v1/logs/audit/entries', { method: 'POST', body: JSON.stringify({ n }), headers: { 'Content-Type': 'application/json' } })
  }
  // Polled, bounded: the witnesses cosign in the background.
  for (let polls = 0; (await logView()).witnessing?.policy_met_size !== 5; polls++) {
    if (polls > 500) throw new Error('the witnesses did not cosign size 5')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
})

afterAll(async () => {
  await appWitnessing(app)?.close()
  await server?.close()
  await appAlerts(app)?.close()
  await Promise.all(witnesses.map((witness) => witness.close()))
  await auth?.close()
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

function logView(): Promise<LogView> {
  return api.json<LogView>('/v1/logs/audit')
}

async function verify(policy: string, index = 3): Promise<{ verified: boolean; steps: readonly Step[] }> {
  const entry = await api.json<EntryView>(`/v1/logs/audit/entries/${index}`)
  let steps: readonly Step[] = []
  const verified = await verifyEntry(api, await logView(), entry, policy, (seen) => { steps = seen.map((step) => ({ ...step })) })
  return { verified, steps }
}

describe('Verify on a witnessed log', () => {
  it('checks the cosignatures of both witnesses against the policy the server states', async () => {
    const log = await logView()
    expect(log.witnessing?.witnesses.map((witness) => witness.verifier_key)).toEqual(witnesses.map((witness) => witness.verifierKey))
    const { verified, steps } = await verify(policyFromServer(log, server.url))
    expect(steps.map((step) => step.state)).toEqual(['passed', 'passed', 'passed', 'passed', 'passed', 'passed'])
    expect(verified).toBe(true)
    // In the order of the note's cosignature lines: whichever witness answered first.
    expect(steps[2]!.detail).toMatch(/^cosigned by (w1\.dashboard\.test, w2|w2\.dashboard\.test, w1)\.dashboard\.test: the quorum is met$/)
  })

  it('fails at the cosignatures under a policy asking a witness that never cosigned', async () => {
    const log = await logView()
    const stranger = generateKeyPair('w3.dashboard.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
    const policy = policyFromServer(log, server.url).replace('group witnessing 2 w1.dashboard.test w2.dashboard.test',
      `witness w3.dashboard.test ${stranger}\ngroup witnessing 3 w1.dashboard.test w2.dashboard.test w3.dashboard.test`)
    const { verified, steps } = await verify(policy)
    expect(verified).toBe(false)
    expect(steps.map((step) => step.state)).toEqual(['passed', 'passed', 'failed', 'pending', 'pending', 'pending'])
    expect(steps[2]!.detail).toMatch(/^QUORUM_UNMET: /)
  })

  it('fails at the signature under a policy naming another key for the log', async () => {
    const other = generateKeyPair((await logView()).origin).verifierKey
    const { verified, steps } = await verify(`log ${other}\nquorum none\n`)
    expect(verified).toBe(false)
    expect(steps[1]).toMatchObject({ state: 'failed', detail: expect.stringMatching(/^SIGNATURE_INVALID: /) })
  })
})

// A witness that checks checkpoints of other sizes against a real Annal log's tiles: the log
// (Ledger, createApp, serve) and the witness (runWitness) in-process, real LevelDB, real HTTP.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatAddCheckpoint } from '@annal/note'
import { Ledger } from '@annal/store'
import { type RunningWitness, runWitness } from '@annal/witness'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, createApp, serve } from '@annal/server'
import { TestAuthServer } from '../packages/server/src/testing/auth-server.js'
import { Mint, bearer, jwksOf, signingKey } from '../packages/server/src/testing/fixture.js'

const ISSUER = 'https://issuer.tiles.test'
const AUDIENCE = 'http://annal.tiles.test/'

let directory: string
let ledger: Ledger
let auth: TestAuthServer
let mint: Mint
let server: RunningServer
let logKey: string
const witnesses: RunningWitness[] = []

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-witness-tiles-int-'))
  ledger = await Ledger.open(join(directory, 'ledger'), { originPrefix: 'annal.tiles.test' })
  logKey = (await ledger.createLog('audit')).verifierKey
  const key = await signingKey('ES256')
  auth = await TestAuthServer.start(jwksOf(key))
  mint = new Mint(key, ISSUER, AUDIENCE)
  const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: auth.jwksUrl, jwksCooldownMs: 0 } })
  server = await serve(app, { requestTimeoutMs: 5_000 })
})

afterAll(async () => {
  await Promise.all(witnesses.map((w) => w.close()))
  await server?.close()
  await auth?.close()
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

/** Appends `n` events in one NDJSON batch; resolves with the log's checkpoint note then. */
async function append(n: number): Promise<string> {
  const token = await mint.token({ scope: 'log:append:audit' })
  const body = Array.from({ length: n }, (_, i) => JSON.stringify({ i })).join('\n')
  const response = await fetch(`${server.url}/v1/logs/audit/entries`, {
    method: 'POST', body, headers: { ...bearer(token), 'Content-Type': 'application/x-ndjson' },
  })
  expect(response.status).toBe(201)
  await response.text()
  return (await fetch(`${server.url}/v1/logs/audit/checkpoint`)).text()
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await check()); waited += 50) {
    if (waited > 10_000) throw new Error('not within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('a witness with the log\'s tiles URL', () => {
  it('verifies an older and a larger checkpoint against the served tiles, full and partial', async () => {
    const small = await append(5)
    const large = await append(300) // size 305: tile 0/000 is full, 0/001 is partial (.p/49)
    const start = async (name: string): Promise<RunningWitness> => {
      const witness = await runWitness({ data: join(directory, name), name: `${name}.tiles.test`,
        logs: [{ verifierKey: logKey, url: `${server.url}/v1/logs/audit` }], checkRetryMs: 100 })
      witnesses.push(witness)
      return witness
    }
    const ahead = await start('ahead')
    const behind = await start('behind')
    const add = (w: RunningWitness, note: string) => fetch(`${w.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint(0, [], note) })
    const gossip = async (w: RunningWitness, note: string) => (await (await fetch(`${w.url}/v1/gossip`, { method: 'POST', body: note })).json()) as unknown
    expect([(await add(ahead, large)).status, (await add(behind, small)).status]).toEqual([200, 200])
    expect([await gossip(ahead, small), await gossip(behind, large)]).toEqual([{ result: 'older' }, { result: 'pending' }])
    await until(() => ahead.checkStatus()[0]!.verified === 1 && behind.checkStatus()[0]!.verified === 1)
    expect([ahead.checkStatus()[0]!.failures, behind.checkStatus()[0]!.failures]).toEqual([0, 0])
    expect([await gossip(ahead, small), await gossip(behind, large)]).toEqual([{ result: 'verified' }, { result: 'verified' }])
    expect(await (await fetch(`${ahead.url}/v1/evidence`)).json()).toEqual({ evidence: [] })
    expect(await (await fetch(`${behind.url}/v1/evidence`)).json()).toEqual({ evidence: [] })
  })
})

import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  NoteError, SIGNATURE_TYPE_COSIGNATURE_V1, formatAddCheckpoint, generateKeyPair, openCheckpoint, parseVerifierKey,
  verifyCosignatures,
} from '@annal/note'
import { LevelDriver, StorageError, type StorageDriver } from '@annal/storage'
import type { Hono } from 'hono'
import { SIZE_CONTENT_TYPE, createWitnessApp } from './app.js'
import { decodeState, originHash, stateKey } from './state.js'
import { TestLog } from './testing/log.js'
import { Witness, type WitnessOptions } from './witness.js'

const log = new TestLog('example.com/app-log')
log.append(200)
const witnessKeys = generateKeyPair('witness.example/app', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
const witnessVerifier = parseVerifierKey(witnessKeys.verifierKey)
const logVerifier = parseVerifierKey(log.verifierKey)

let directory: string
let driver: LevelDriver
let app: Hono

function options(overrides: Partial<WitnessOptions> = {}): WitnessOptions {
  return {
    name: 'witness.example/app',
    signerKey: witnessKeys.signerKey,
    logs: [{ origin: log.origin, verifierKeys: [log.verifierKey] }, { origin: 'example.com/idle', verifierKeys: [log.verifierKey] }],
    driver,
    clock: () => new Date(1_700_000_000_000),
    ...overrides,
  }
}

function post(body: string, target: Hono = app, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(target.request('/add-checkpoint', { method: 'POST', body, headers }))
}

/** The problem's code, once its body is checked to be in the server's style (typed URI, title). */
async function problemCode(response: Response): Promise<string> {
  expect(response.headers.get('content-type')).toBe('application/problem+json')
  const body = (await response.json()) as { type: string; title: unknown; status: number; code: string }
  expect(body.type).toBe(`https://annal.dev/problems/${body.code.toLowerCase().replaceAll('_', '-')}`)
  expect(body).toMatchObject({ title: expect.stringMatching(/./), status: response.status })
  return body.code
}

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-witness-app-'))
  driver = await LevelDriver.open(join(directory, 'db'))
  app = createWitnessApp(options())
})

afterEach(async () => {
  await driver.close().catch(() => undefined)
  await rm(directory, { recursive: true, force: true })
})

describe('POST /add-checkpoint', () => {
  it('answers 200 with the cosignature line, after storing the new state', async () => {
    const response = await post(log.body(0, 10))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    const line = await response.text()
    expect(line).toMatch(/^\u2014 witness\.example\/app [A-Za-z0-9+/]{102}==\n$/)
    const stored = decodeState((await driver.get(stateKey(log.origin)))!)
    expect(stored.size).toBe(10)
    expect(stored.note.endsWith(line)).toBe(true)
    const [cosignature] = verifyCosignatures(openCheckpoint(stored.note, [logVerifier]), [witnessVerifier])
    expect(cosignature?.timestamp).toBe(1_700_000_000)
  })

  it('follows the log as it grows', async () => {
    let old = 0
    for (const size of [1, 2, 3, 8, 9, 100, 100, 200]) {
      expect((await post(log.body(old, size))).status).toBe(200)
      old = size
    }
  })

  it('answers 409 as text/x.tlog.size with the witnessed size', async () => {
    const first = await post(log.body(5, 10))
    expect(first.status).toBe(409)
    expect(first.headers.get('content-type')).toBe(SIZE_CONTENT_TYPE)
    expect(await first.text()).toBe('0\n')
    await post(log.body(0, 50))
    const stale = await post(log.body(10, 60))
    expect([stale.status, stale.headers.get('content-type'), await stale.text()]).toEqual([409, SIZE_CONTENT_TYPE, '50\n'])
  })

  it('answers every refusal with its spec status and a problem code', async () => {
    await post(log.body(0, 50))
    const impostor = new TestLog(log.origin)
    impostor.append(60)
    const fork = log.fork(20)
    fork.append(30)
    const flipped = log.proof(50, 60).map((hash, i) => (i === 0 ? hash.map((b, j) => (j === 5 ? b ^ 0x10 : b)) : hash))
    const stranger = new TestLog('example.com/unknown')
    stranger.append(3)
    const cases: [string, string, number, string][] = [
      ['unknown origin', stranger.body(0, 3), 404, 'LOG_NOT_FOUND'],
      ['wrong key', impostor.body(50, 60), 403, 'NOTE_UNVERIFIED'],
      ['old above size', formatAddCheckpoint(51, [], log.checkpoint(50)), 400, 'SIZE_OUT_OF_RANGE'],
      ['malformed body', `old 050\n\n${log.checkpoint(50)}`, 400, 'ADD_CHECKPOINT_MALFORMED'],
      ['malformed note', `old 50\n\n${log.checkpoint(50).split('\n\n')[0]}\n`, 400, 'NOTE_MALFORMED'],
      ['bad proof', formatAddCheckpoint(50, flipped, log.checkpoint(60)), 422, 'PROOF_ROOT_MISMATCH'],
      ['short proof', formatAddCheckpoint(50, log.proof(50, 60).slice(1), log.checkpoint(60)), 422, 'PROOF_MALFORMED'],
      ['proof from old 0', formatAddCheckpoint(0, log.proof(5, 10), log.checkpoint(10)), 409, ''],
      // Last: it is a split view, so the witness stops cosigning the origin (see gossip tests).
      ['fork at equal size', formatAddCheckpoint(50, [], fork.checkpoint(50)), 422, 'PROOF_ROOT_MISMATCH'],
    ]
    for (const [what, body, status, code] of cases) {
      const response = await post(body)
      expect([what, response.status]).toEqual([what, status])
      if (status !== 409) expect([what, await problemCode(response)]).toEqual([what, code])
    }
    // None of these moved the witness.
    expect(decodeState((await driver.get(stateKey(log.origin)))!).size).toBe(50)
  })

  it('answers 422 for a proof from old 0 while the witness has nothing', async () => {
    const response = await post(formatAddCheckpoint(0, log.proof(5, 10), log.checkpoint(10)))
    expect([response.status, await problemCode(response)]).toEqual([422, 'PROOF_MALFORMED'])
  })

  it('refuses bodies over 16 KiB with 413, by Content-Length or by counting', async () => {
    const big = `old 0\n\n${'x'.repeat(16 * 1024)}`
    const declared = await post(big)
    expect([declared.status, await problemCode(declared)]).toEqual([413, 'BODY_TOO_LARGE'])
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(1024).fill(0x41))
        controller.close()
      },
    })
    const counted = await app.request('/add-checkpoint', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    expect(counted.status).toBe(413)
  })

  it('answers 405 to other methods', async () => {
    const response = await app.request('/add-checkpoint')
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST')
  })

  it('takes racing updates for one origin one at a time: one wins, the rest get 409', async () => {
    await post(log.body(0, 10))
    const responses = await Promise.all([20, 30, 40, 50].map((size) => post(log.body(10, size))))
    const statuses = responses.map((response) => response.status)
    expect(statuses.filter((status) => status === 200)).toHaveLength(1)
    expect(statuses.filter((status) => status === 409)).toHaveLength(3)
    const winner = [20, 30, 40, 50][statuses.indexOf(200)]
    expect(decodeState((await driver.get(stateKey(log.origin)))!).size).toBe(winner)
    for (const response of responses.filter((r) => r.status === 409)) expect(await response.text()).toBe(`${winner}\n`)
  })

  it('serializes requests for one origin, so that its own compare-and-swaps never conflict', async () => {
    let swaps = 0
    let conflicts = 0
    const counting: StorageDriver = Object.assign(Object.create(null) as StorageDriver, {
      get: (key: Uint8Array) => driver.get(key),
      getMany: (keys: readonly Uint8Array[]) => driver.getMany(keys),
      async compareAndSwap(...args: Parameters<StorageDriver['compareAndSwap']>) {
        swaps++
        try {
          await driver.compareAndSwap(...args)
        } catch (error) {
          conflicts++
          throw error
        }
      },
    })
    const serialized = createWitnessApp(options({ driver: counting }))
    await post(log.body(0, 10), serialized)
    const responses = await Promise.all([11, 12, 13, 14, 15, 16, 17, 18].map((size) => post(log.body(10, size), serialized)))
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1)
    expect([swaps, conflicts]).toEqual([2, 0])
  })

  it('lets compare-and-swap settle races between two witnesses on one database', async () => {
    const other = createWitnessApp(options())
    await post(log.body(0, 10))
    for (let round = 0; round < 5; round++) {
      const from = 10 + round * 20
      const [a, b] = await Promise.all([post(log.body(from, from + 20)), post(log.body(from, from + 20), other)])
      expect([a.status, b.status].sort()).toEqual([200, 409])
    }
  })

  it('does not answer 200 when the state cannot be stored', async () => {
    const failing: StorageDriver = Object.assign(Object.create(null) as StorageDriver, {
      get: (key: Uint8Array) => driver.get(key),
      getMany: (keys: readonly Uint8Array[]) => driver.getMany(keys),
      compareAndSwap: () => Promise.reject(new StorageError('DATABASE_CLOSED', 'closed')),
    })
    const broken = createWitnessApp(options({ driver: failing }))
    const response = await post(log.body(0, 10), broken)
    expect(response.status).toBe(503)
    expect(await response.text()).not.toContain('\u2014')
  })
  it('re-reads the database after a write that failed, instead of trusting what it kept', async () => {
    // A synced write can land and still report an error (say, fsync failing afterwards); the
    // witness must then not answer from the state it had before.
    let failNext = false
    const flaky: StorageDriver = Object.assign(Object.create(null) as StorageDriver, {
      getMany: (keys: readonly Uint8Array[]) => driver.getMany(keys),
      write: (...args: Parameters<StorageDriver['write']>) => driver.write(...args),
      async compareAndSwap(...args: Parameters<StorageDriver['compareAndSwap']>) {
        await driver.compareAndSwap(...args)
        if (failNext) {
          failNext = false
          throw new StorageError('DATABASE_CLOSED', 'fsync failed')
        }
      },
    })
    const witness = createWitnessApp(options({ driver: flaky }))
    expect((await post(log.body(0, 10), witness)).status).toBe(200)
    failNext = true
    expect((await post(log.body(10, 20), witness)).status).toBe(503)
    // The state did move to 20: a request from 10 is told so, and once writes are taken again
    // (after a probe write), one from 20 is cosigned.
    const stale = await post(log.body(10, 30), witness)
    expect([stale.status, await stale.text()]).toEqual([409, '20\n'])
    for (const deadline = Date.now() + 20_000; (await witness.request('/readyz')).status !== 200;) {
      if (Date.now() > deadline) throw new Error('the witness stayed unready')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect((await post(log.body(20, 30), witness)).status).toBe(200)
  })
})

describe('GET /<origin hash>/checkpoint', () => {
  it('serves the latest cosigned checkpoint with the log signature and the cosignature', async () => {
    const url = `/${originHash(log.origin)}/checkpoint`
    expect((await app.request(url)).status).toBe(404)
    await post(log.body(0, 10))
    const line = await (await post(log.body(10, 30))).text()
    const response = await app.request(url)
    expect(response.status).toBe(200)
    const note = await response.text()
    expect(note).toBe(`${log.checkpoint(30)}${line}`)
    expect(verifyCosignatures(openCheckpoint(note, [logVerifier]), [witnessVerifier])).toHaveLength(1)
  })

  it('answers 404 for unknown or non-canonical origin hashes', async () => {
    await post(log.body(0, 10))
    for (const hash of [originHash('example.com/unknown'), originHash(log.origin).toUpperCase(), 'abc', originHash('example.com/idle')]) {
      expect((await app.request(`/${hash}/checkpoint`)).status).toBe(404)
    }
  })
})

describe('GET /v1/witness', () => {
  it('describes the witness, its logs and their latest checkpoints', async () => {
    await post(log.body(0, 10))
    const info = await (await app.request('/v1/witness')).json()
    expect(info).toEqual({
      name: 'witness.example/app',
      verifier_key: witnessKeys.verifierKey,
      logs: [
        {
          origin: log.origin,
          origin_hash: originHash(log.origin),
          verifier_keys: [log.verifierKey],
          checkpoint: { size: 10, root_hash: btoa(String.fromCharCode(...log.tree.root(10))), note: expect.any(String) },
        },
        { origin: 'example.com/idle', origin_hash: originHash('example.com/idle'), verifier_keys: [log.verifierKey], checkpoint: null },
      ],
    })
    expect(parseVerifierKey(info.verifier_key).type).toBe(SIGNATURE_TYPE_COSIGNATURE_V1)
  })

  it('answers unknown routes with a 404 problem', async () => {
    const response = await app.request('/v1/nothing')
    expect([response.status, await problemCode(response)]).toEqual([404, 'ROUTE_NOT_FOUND'])
  })
})

describe('configuration', () => {
  it('refuses what would make the witness unsafe or ambiguous', () => {
    const logs = options().logs
    expect(() => new Witness(options({ name: 'someone-else' }))).toThrow(RangeError)
    expect(() => new Witness(options({ signerKey: generateKeyPair('witness.example/app').signerKey }))).toThrow(RangeError)
    expect(() => new Witness(options({ logs: [logs[0]!, logs[0]!] }))).toThrow(RangeError)
    expect(() => new Witness(options({ logs: [{ origin: 'x', verifierKeys: [witnessKeys.verifierKey] }] }))).toThrow(RangeError)
    expect(() => new Witness(options({ logs: [{ origin: 'x', verifierKeys: [] }] }))).toThrow(RangeError)
    expect(() => new Witness(options({ logs: [{ origin: 'x', verifierKeys: ['not a key'] }] }))).toThrow(NoteError)
  })

  it('refuses a body deadline that is not a positive integer', () => {
    for (const bodyTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => createWitnessApp(options(), { bodyTimeoutMs })).toThrow(RangeError)
    }
  })
})

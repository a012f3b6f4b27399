// Gossip and split-view detection in-process: POST/GET /v1/gossip, GET /v1/evidence and the
// add-checkpoint side, over a real LevelDB in a temp directory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair, formatAddCheckpoint } from '@annal/note'
import { LevelDriver } from '@annal/storage'
import type { Hono } from 'hono'
import { createAdminApp, createWitnessApp } from './app.js'
import { decodeState, originHash, stateKey } from './state.js'
import { type Evidence, evidenceKey, pendingKey } from './evidence.js'
import { MAX_GOSSIP_NOTES, parseGossip, peerUrl } from './gossip.js'
import { TestLog } from './testing/log.js'
import { Witness } from './witness.js'

const log = new TestLog('example.com/gossip-log')
log.append(200)
const fork = log.fork(40)
fork.append(160)
const witnessKeys = generateKeyPair('witness.example/gossip', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
const utf8 = new TextEncoder()

let directory: string
let driver: LevelDriver
let witness: Witness
let app: Hono
let alerts: Evidence[]

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-witness-gossip-'))
  driver = await LevelDriver.open(join(directory, 'db'))
  alerts = []
  witness = new Witness({
    signerKey: witnessKeys.signerKey,
    logs: [{ origin: log.origin, verifierKeys: [log.verifierKey] }],
    driver,
    clock: () => new Date(1_700_000_000_000),
    onEvidence: (evidence) => alerts.push(evidence),
  })
  app = createWitnessApp(witness)
})

afterEach(async () => {
  await driver.close().catch(() => undefined)
  await rm(directory, { recursive: true, force: true })
})

function addCheckpoint(body: string): Promise<Response> {
  return Promise.resolve(app.request('/add-checkpoint', { method: 'POST', body }))
}

async function gossip(note: string | Uint8Array<ArrayBuffer>): Promise<[number, string]> {
  const response = await app.request('/v1/gossip', { method: 'POST', body: note })
  const json = await response.json() as { result?: string; code?: string }
  return [response.status, json.result ?? json.code ?? '']
}

async function evidence(): Promise<{ origin: string; size: number; checkpoints: { note: string; source: string }[]; detected_via: string }[]> {
  return ((await (await app.request('/v1/evidence')).json()) as { evidence: [] }).evidence
}

/** The note with the first signature's last byte flipped: a trusted key line that does not verify. */
function badSignature(note: string): string {
  return note.replace(/(\u2014 \S+ )([A-Za-z0-9+/=]+)\n/, (_, head: string, b64: string) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    bytes[bytes.length - 1]! ^= 1
    return `${head}${btoa(String.fromCharCode(...bytes))}\n`
  })
}

async function nothingStored(): Promise<void> {
  expect(await driver.get(evidenceKey(log.origin))).toBeUndefined()
  expect(await driver.get(pendingKey(log.origin))).toBeUndefined()
}

describe('GET /v1/gossip', () => {
  it('lists the latest cosigned checkpoint of each origin', async () => {
    expect(await (await app.request('/v1/gossip')).json()).toEqual({ checkpoints: [] })
    await addCheckpoint(log.body(0, 50))
    const { checkpoints } = await (await app.request('/v1/gossip')).json() as { checkpoints: string[] }
    expect(checkpoints).toEqual([decodeState((await driver.get(stateKey(log.origin)))!).note])
    expect(checkpoints[0]!.startsWith(log.checkpoint(50))).toBe(true)
  })
})

describe('POST /v1/gossip', () => {
  it('says how a checkpoint compares with what the witness holds', async () => {
    await addCheckpoint(log.body(0, 50))
    expect(await gossip(log.checkpoint(50))).toEqual([200, 'consistent'])
    expect(await gossip(log.checkpoint(30))).toEqual([200, 'older'])
    expect(await gossip(fork.checkpoint(30))).toEqual([200, 'older'])
    expect(await gossip(log.checkpoint(80))).toEqual([200, 'pending'])
    expect(await gossip(log.checkpoint(80))).toEqual([200, 'known'])
    expect(await evidence()).toEqual([])
    expect(alerts).toEqual([])
  })

  it('refuses malformed, unknown, oversized or badly signed notes and stores nothing', async () => {
    await addCheckpoint(log.body(0, 50))
    const stranger = new TestLog('example.com/gossip-unknown')
    stranger.append(5)
    const impostor = new TestLog(log.origin)
    impostor.append(50)
    const cases: [string, string | Uint8Array<ArrayBuffer>, number, string][] = [
      ['not a note', 'hello\n', 400, 'NOTE_MALFORMED'],
      ['no signature', log.checkpoint(50).split('\n\n')[0]!, 400, 'NOTE_MALFORMED'],
      ['not a checkpoint', `${log.origin}\nten\n\n${log.checkpoint(50).split('\n\n')[1]!}`, 400, 'CHECKPOINT_MALFORMED'],
      ['not UTF-8', Uint8Array.of(0xff, 0x0a, 0x0a), 400, 'NOTE_MALFORMED'],
      ['over 16 KiB', `${'x'.repeat(17_000)}\n`, 413, 'BODY_TOO_LARGE'],
      ['unknown origin', stranger.checkpoint(5), 404, 'LOG_NOT_FOUND'],
      ['wrong key, fork at the witnessed size', impostor.checkpoint(50), 403, 'NOTE_UNVERIFIED'],
      ['wrong key, larger', impostor.checkpoint(20), 403, 'NOTE_UNVERIFIED'],
      ['bad signature, fork at the witnessed size', badSignature(fork.checkpoint(50)), 403, 'SIGNATURE_INVALID'],
      ['bad signature, larger', badSignature(log.checkpoint(90)), 403, 'SIGNATURE_INVALID'],
    ]
    for (const [what, note, status, code] of cases) expect([what, await gossip(note)]).toEqual([what, [status, code]])
    expect((await app.request('/v1/gossip', { method: 'PUT', body: 'x' })).status).toBe(404)
    await nothingStored()
    expect(alerts).toEqual([])
    expect((await addCheckpoint(log.body(50, 60))).status).toBe(200)
  })

  it('stores a split view at the witnessed size as evidence, alerts once and stops cosigning', async () => {
    await addCheckpoint(log.body(0, 50))
    const held = decodeState((await driver.get(stateKey(log.origin)))!).note
    expect(await gossip(fork.checkpoint(50))).toEqual([200, 'evidence'])
    const [stored] = await evidence()
    expect(stored).toMatchObject({ origin: log.origin, size: 50, kind: 'same-size-different-roots', detected_via: 'submitted unknown' })
    expect(stored!.checkpoints.map((c) => c.note).sort()).toEqual([held, fork.checkpoint(50)].sort())
    expect(alerts).toHaveLength(1)
    // Frozen: gossip is not compared any more, add-checkpoint is refused, nothing moves.
    expect(await gossip(fork.checkpoint(60))).toEqual([200, 'frozen'])
    const refused = await addCheckpoint(log.body(50, 60))
    expect(refused.status).toBe(403)
    expect((await refused.json() as { code: string }).code).toBe('EVIDENCE_HELD')
    expect(decodeState((await driver.get(stateKey(log.origin)))!).size).toBe(50)
    expect(alerts).toHaveLength(1)
    // The operator clears it: cosigning resumes from the witnessed state.
    expect(await witness.clearEvidence(log.origin)).toBe(true)
    expect(await witness.clearEvidence(log.origin)).toBe(false)
    expect(await evidence()).toEqual([])
    expect((await addCheckpoint(log.body(50, 60))).status).toBe(200)
  })

  it('catches two pending checkpoints of one size with different roots', async () => {
    await addCheckpoint(log.body(0, 30))
    expect(await gossip(log.checkpoint(100))).toEqual([200, 'pending'])
    expect(await gossip(fork.checkpoint(100))).toEqual([200, 'evidence'])
    const [stored] = await evidence()
    expect(stored!.checkpoints.map((c) => c.note).sort()).toEqual([log.checkpoint(100), fork.checkpoint(100)].sort())
    expect((await addCheckpoint(log.body(30, 100))).status).toBe(403)
  })
})

describe('add-checkpoint and pending checkpoints', () => {
  it('confirms an honest larger checkpoint when the log reaches its size, with no evidence', async () => {
    await addCheckpoint(log.body(0, 50))
    expect(await gossip(log.checkpoint(80))).toEqual([200, 'pending'])
    expect(await gossip(log.checkpoint(120))).toEqual([200, 'pending'])
    expect((await addCheckpoint(log.body(50, 80))).status).toBe(200)
    expect((await addCheckpoint(log.body(80, 150))).status).toBe(200)
    expect(await driver.get(pendingKey(log.origin))).toBeUndefined()
    expect(await evidence()).toEqual([])
    expect(alerts).toEqual([])
  })

  it('refuses to cosign the log checkpoint that conflicts with a pending one, and stores evidence', async () => {
    await addCheckpoint(log.body(0, 50))
    expect(await gossip(fork.checkpoint(80))).toEqual([200, 'pending'])
    expect((await addCheckpoint(log.body(50, 80))).status).toBe(403)
    const [stored] = await evidence()
    expect(stored).toMatchObject({ size: 80, detected_via: 'add-checkpoint' })
    expect(stored!.checkpoints.map((c) => c.source).sort()).toEqual(['add-checkpoint', 'submitted unknown'])
    expect(decodeState((await driver.get(stateKey(log.origin)))!).size).toBe(50)
    expect(alerts).toHaveLength(1)
  })

  it('stores a fork at the witnessed size shown by add-checkpoint: 422, then 403', async () => {
    await addCheckpoint(log.body(0, 50))
    expect((await addCheckpoint(formatAddCheckpoint(50, [], fork.checkpoint(50)))).status).toBe(422)
    expect(await evidence()).toHaveLength(1)
    expect((await addCheckpoint(log.body(50, 60))).status).toBe(403)
  })

  it('stores a fork at the witnessed size even when its request is refused with 409', async () => {
    await addCheckpoint(log.body(0, 50))
    const response = await addCheckpoint(formatAddCheckpoint(30, fork.proof(30, 50), fork.checkpoint(50)))
    expect([response.status, await response.text()]).toEqual([409, '50\n'])
    expect((await evidence())[0]).toMatchObject({ size: 50, detected_via: 'add-checkpoint' })
  })

  it('does not keep checkpoints refused with 409, and keeps those whose proof failed', async () => {
    await addCheckpoint(log.body(0, 50))
    expect((await addCheckpoint(log.body(40, 90))).status).toBe(409)
    expect(await driver.get(pendingKey(log.origin))).toBeUndefined()
    expect((await addCheckpoint(formatAddCheckpoint(50, [], fork.checkpoint(90)))).status).toBe(422)
    expect(await driver.get(pendingKey(log.origin))).toBeDefined()
    expect((await addCheckpoint(log.body(50, 90))).status).toBe(403)
  })
})

describe('the admin routes', () => {
  it('clear an origin by its hash', async () => {
    const admin = createAdminApp(witness)
    await addCheckpoint(log.body(0, 50))
    const url = `/v1/evidence/${originHash(log.origin)}`
    expect((await admin.request(url, { method: 'DELETE' })).status).toBe(404)
    await gossip(fork.checkpoint(50))
    expect(((await (await admin.request('/v1/evidence')).json()) as { evidence: [] }).evidence).toHaveLength(1)
    // Not on the public app: no such route there, and the evidence stays.
    const onPublic = await app.request(url, { method: 'DELETE' })
    expect([onPublic.status, ((await onPublic.json()) as { code: string }).code]).toEqual([404, 'ROUTE_NOT_FOUND'])
    expect(await evidence()).toHaveLength(1)
    expect((await admin.request(url, { method: 'DELETE' })).status).toBe(204)
    expect((await admin.request(`/v1/evidence/${originHash('example.com/other')}`, { method: 'DELETE' })).status).toBe(404)
    expect(await evidence()).toEqual([])
  })
})

describe('parseGossip and peerUrl', () => {
  it('accept only {"checkpoints": [strings]} within limits', () => {
    expect(parseGossip(utf8.encode('{"checkpoints":["a","b"]}'))).toEqual(['a', 'b'])
    for (const bad of ['', '[]', 'null', '{"checkpoints":"a"}', '{"checkpoints":[1]}', '{}',
      JSON.stringify({ checkpoints: Array.from({ length: MAX_GOSSIP_NOTES + 1 }, () => 'a') })]) {
      expect(() => parseGossip(utf8.encode(bad))).toThrow(expect.objectContaining({ code: 'GOSSIP_MALFORMED' }))
    }
  })

  it('take http(s) base URLs only', () => {
    expect(peerUrl('http://127.0.0.1:8080/')).toBe('http://127.0.0.1:8080')
    expect(peerUrl('https://w.example/prefix/')).toBe('https://w.example/prefix')
    for (const bad of ['', 'ftp://x', 'w.example', 'http://x/?a=1', 'http://x/#f']) expect(() => peerUrl(bad)).toThrow(RangeError)
  })
})

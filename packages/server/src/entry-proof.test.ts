// GET /v1/logs/{log}/entries/{ref}/proof against a real ledger, verified as a client would
// offline: with the client's verifyProof and a policy holding the log's key (and, for a
// witnessed log, a witness that cosigns over loopback).
import {
  SIGNATURE_TYPE_COSIGNATURE_V1, cosignCheckpoint, formatSignatureLine, generateKeyPair, openCheckpoint,
  parseAddCheckpoint, parseSignerKey, parseVerifierKey, type CosignatureSigner,
} from '@annal/note'
import { bytesToHex, defaultHasher, hexToBytes } from '@annal/tlog'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isClientError, parsePolicy, parseProof, verifyProof } from '../../client/src/index.js'
import { appWitnessing } from './app.js'
import { type RunningServer, serve } from './serve.js'
import { type Harness, bearer, harness, recordOf, expectProblem } from './testing/fixture.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const entries = Array.from({ length: 7 }, (_, i) => utf8(`{"seq":${i}}`))
const idOf = (entry: Uint8Array): string => bytesToHex(defaultHasher.leaf(entry))

let h: Harness
let reader: string

/** The proof of `ref`, asked for with `token` (null: without one). */
async function proofOf(ref: string | number, token: string | null = reader, log = 'audit'): Promise<Response> {
  return h.app.request(`/v1/logs/${log}/entries/${ref}/proof`, { headers: token === null ? {} : bearer(token) })
}

/** The ClientError code verifying `proof` for `entry` throws, or undefined when it verifies. */
function refusal(proof: Uint8Array | string, entry: Uint8Array, policy: string): string | undefined {
  try {
    verifyProof(proof, entry, parsePolicy(policy))
    return undefined
  } catch (error) {
    if (!isClientError(error)) throw error
    return error.code
  }
}

describe('an entry proof of an unwitnessed log', () => {
  let policy: string

  beforeEach(async () => {
    h = await harness()
    const info = await h.ledger.createLog('audit')
    await h.ledger.log('audit').append(entries)
    policy = `log ${info.verifierKey}\nquorum none\n`
    reader = await h.mint.token({ scope: 'log:read' })
  })
  afterEach(async () => h.close())

  it('is a tlog-proof file that verifies offline, by index, id and abbreviated id', async () => {
    const id = idOf(entries[4]!)
    // An abbreviation of digits only would name an index.
    const abbreviated = id.slice(0, 12)
    expect(abbreviated).toMatch(/[a-f]/)
    for (const ref of [4, id, abbreviated]) {
      const response = await proofOf(ref)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(response.headers.get('content-disposition')).toBe('attachment; filename="audit-4.tlog-proof"')
      const text = await response.text()
      expect(parseProof(text)).toMatchObject({ index: 4, extra: undefined, checkpoint: h.ledger.log('audit').checkpointInfo.note })
      const verified = verifyProof(text, entries[4]!, parsePolicy(policy))
      expect([verified.index, verified.trusted.checkpoint.size, bytesToHex(verified.leafHash)]).toEqual([4, 7, id])
      expect(await recordOf(h.ledger, response)).toMatchObject({
        status: 200, method: 'GET', route: '/v1/logs/:log/entries/:ref/proof', authorized_by: 'log:read',
      })
    }
  })

  it('fails to verify with any line changed by one byte, or for another entry', async () => {
    const bytes = new Uint8Array(await (await proofOf(2)).arrayBuffer())
    expect(refusal(bytes, entries[2]!, policy)).toBeUndefined()
    // The first byte of every line, and the last byte of the file.
    const positions = [0, bytes.length - 1]
    bytes.forEach((byte, i) => byte === 0x0a && i + 1 < bytes.length && positions.push(i + 1))
    expect(positions.length).toBeGreaterThan(8)
    for (const at of positions) {
      const changed = bytes.slice()
      changed[at] = changed[at]! ^ 1
      expect(refusal(changed, entries[2]!, policy), `byte ${at}`).toBeDefined()
    }
    expect(refusal(bytes, entries[3]!, policy)).toBe('INCLUSION_FAILED')
  })

  it('answers 404 and 400 as the entry routes do', async () => {
    await expectProblem(await proofOf(0, reader, 'nope'), 404, 'LOG_NOT_FOUND')
    await expectProblem(await proofOf(7), 404, 'ENTRY_NOT_FOUND')
    await expectProblem(await proofOf('0'.repeat(64)), 404, 'ENTRY_NOT_FOUND')
    await expectProblem(await proofOf('ABCD'), 400, 'ID_MALFORMED')
    await expectProblem(await proofOf('abc'), 400, 'ID_MALFORMED')
  })

  it('needs log:read for the log', async () => {
    await expectProblem(await proofOf(0, null), 401, 'TOKEN_MISSING')
    await expectProblem(await proofOf(0, await h.mint.token({ scope: 'log:append' })), 403, 'INSUFFICIENT_SCOPE')
    await expectProblem(await proofOf(0, await h.mint.token({ scope: 'log:read:other' })), 403, 'INSUFFICIENT_SCOPE')
    expect((await proofOf(0, await h.mint.token({ scope: 'log:read:audit' }))).status).toBe(200)
  })
})

describe('an entry proof of a witnessed log', () => {
  let witnessServer: RunningServer
  let witnessKey: string
  let logKey: string
  /** The witness cosigns checkpoints up to this size and refuses larger ones. */
  const cosignUpTo = 3

  beforeEach(async () => {
    const keys = generateKeyPair('witness.proof.test', { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    witnessKey = keys.verifierKey
    const signer = parseSignerKey(keys.signerKey) as CosignatureSigner
    const witness = new Hono()
    witness.post('/add-checkpoint', async (c) => {
      const request = parseAddCheckpoint(await c.req.text())
      const checkpoint = openCheckpoint(request.note, [parseVerifierKey(logKey)])
      if (checkpoint.size > cosignUpTo) return c.text('not now', 500)
      return c.text(formatSignatureLine(cosignCheckpoint(checkpoint, signer)))
    })
    witnessServer = await serve(witness, { closeGraceMs: 100 })
    h = await harness({
      app: {
        witnesses: [{ name: 'witness.proof.test', url: witnessServer.url, verifierKey: witnessKey }], policy: { k: 1 },
        witnessing: { pollIntervalMs: 10, timeoutMs: 2_000, backoffMs: 10, maxBackoffMs: 50 },
      },
    })
    // The log asks for the server's witnesses when it is created.
    const created = await h.app.request('/v1/logs', {
      method: 'POST', body: JSON.stringify({ name: 'audit', witnessing: {} }),
      headers: { ...bearer(await h.mint.token({ scope: 'log:admin' })), 'Content-Type': 'application/json' },
    })
    expect(created.status).toBe(201)
    logKey = ((await created.json()) as { verifier_key: string }).verifier_key
    reader = await h.mint.token({ scope: 'log:read' })
  })
  afterEach(async () => {
    await appWitnessing(h.app)?.close()
    await witnessServer.close()
    await h.close()
  })

  /** Polls the served checkpoint until it is cosigned at `size`; throws after 10 s. */
  async function cosignedAt(size: number): Promise<void> {
    for (const deadline = Date.now() + 10_000; ;) {
      const response = await h.app.request('/v1/logs/audit/checkpoint')
      const note = await response.text()
      if (response.status === 200 && openCheckpoint(note, [parseVerifierKey(logKey)]).size === size) return
      if (Date.now() > deadline) throw new Error(`not cosigned at ${size} within 10 s: ${response.status} ${note}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it('proves the entry in the checkpoint served with its cosignatures, and meets the quorum offline', async () => {
    await expectProblem(await proofOf(0), 404, 'ENTRY_NOT_FOUND')
    await h.ledger.log('audit').append(entries.slice(0, cosignUpTo))
    await cosignedAt(cosignUpTo)
    await h.ledger.log('audit').append(entries.slice(cosignUpTo))
    const text = await (await proofOf(1)).text()
    const policy = `log ${logKey}\nwitness w ${witnessKey}\nquorum w\n`
    const verified = verifyProof(text, entries[1]!, parsePolicy(policy))
    expect([verified.index, verified.trusted.checkpoint.size, verified.trusted.witnesses]).toEqual([1, cosignUpTo, ['w']])
    // Without its cosignature line the checkpoint does not meet the quorum.
    const stripped = text.split('\n').filter((line) => !line.startsWith('— witness.proof.test ')).join('\n')
    expect(refusal(stripped, entries[1]!, policy)).toBe('QUORUM_UNMET')
    // An entry past the cosigned checkpoint has no proof to serve yet.
    const body = await expectProblem(await proofOf(cosignUpTo), 503, 'POLICY_UNMET')
    expect(body).toMatchObject({ policy: { k: 1, n: 1 }, latest_size: entries.length })
  })

  it('proves search results in the checkpoint that meets the policy, and none past it', async () => {
    await h.ledger.log('audit').append(entries.slice(0, cosignUpTo))
    await cosignedAt(cosignUpTo)
    await h.ledger.log('audit').append(entries.slice(cosignUpTo))
    const response = await h.app.request('/v1/logs/audit/search?order=oldest&with_proofs=1', { headers: bearer(reader) })
    expect(response.status).toBe(200)
    const page = await response.json() as { checkpoint: { size: number; note: string }; results: { index: number; inclusion_proof: string[] | null }[] }
    const trusted = parsePolicy(`log ${logKey}\nwitness w ${witnessKey}\nquorum w\n`)
    const checkpoint = openCheckpoint(page.checkpoint.note, [parseVerifierKey(logKey)])
    expect([page.checkpoint.size, checkpoint.size]).toEqual([cosignUpTo, cosignUpTo])
    expect(page.results.map((result) => result.index)).toEqual(entries.map((_, i) => i))
    for (const result of page.results) {
      if (result.index >= cosignUpTo) {
        expect(result.inclusion_proof).toBeNull()
        continue
      }
      const proof = { index: result.index, hashes: result.inclusion_proof!.map(hexToBytes), checkpoint: page.checkpoint.note }
      expect(verifyProof(proof, entries[result.index]!, trusted).trusted.witnesses).toEqual(['w'])
    }
  })

  it('answers POLICY_UNMET while no checkpoint is cosigned', async () => {
    await h.ledger.log('audit').append(entries)
    await expectProblem(await proofOf(0), 503, 'POLICY_UNMET')
  })
})

// The witness as a process would run it: runWitness over a temp directory, real LevelDB,
// real HTTP on 127.0.0.1, real Ed25519 keys, and cosignatures checked by a verifier written
// here from the specs (not @annal/note's).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { UNENDING_CHUNKED_BODY, exchange } from '@annal/http/testing'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatAddCheckpoint, parseSignerKey } from '@annal/note'
import { isStorageError } from '@annal/storage'
import { originHash } from './state.js'
import { runWitness, type RunningWitness } from './run.js'
import { TestLog } from './testing/log.js'

const NAME = 'witness.example/int'
const log = new TestLog('example.com/int-log')
log.append(1000)
const second = new TestLog('example.com/int-second')
second.append(10)

let data: string
let running: RunningWitness | undefined

async function start(clock?: () => Date): Promise<RunningWitness> {
  running = await runWitness({ data, name: NAME, logs: [log.verifierKey, second.verifierKey], clock })
  return running
}

async function stop(): Promise<void> {
  await running?.close()
  running = undefined
}

function post(witness: RunningWitness, body: string): Promise<Response> {
  return fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body })
}

/**
 * tlog-cosignature v1 and signed-note, from the spec text: the verifier key is
 * `<name>+<hex key ID>+base64(0x04 || 32-byte Ed25519 key)`; the key ID is the first four bytes
 * of SHA-256(name || "\n" || 0x04 || key); a cosignature line is `— <name> base64(key ID ||
 * u64be timestamp || Ed25519 signature)`, the signature over
 * "cosignature/v1\ntime <timestamp>\n" || the checkpoint text. Returns the timestamp.
 */
function independentlyVerify(vkey: string, checkpointText: string, line: string): number {
  // Names hold no '+', base64 may: the first two '+' are the separators.
  const [, name, keyIdHex, keyBase64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey) as unknown as [string, string, string, string]
  const key = Buffer.from(keyBase64, 'base64')
  expect(key.length).toBe(33)
  expect(key[0]).toBe(0x04)
  const publicKey = key.subarray(1)
  const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.of(0x04), publicKey]))
    .digest().subarray(0, 4)
  expect(keyId.toString('hex')).toBe(keyIdHex)
  const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)\n$/.exec(line)
  expect(match?.[1]).toBe(name)
  const bytes = Buffer.from(match![2]!, 'base64')
  expect(bytes.length).toBe(4 + 8 + 64)
  expect(bytes.subarray(0, 4).equals(keyId)).toBe(true)
  const timestamp = Number(bytes.readBigUInt64BE(4))
  const message = Buffer.concat([Buffer.from(`cosignature/v1\ntime ${timestamp}\n`), Buffer.from(checkpointText)])
  const spki = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]), format: 'der', type: 'spki',
  })
  expect(verify(null, message, spki, bytes.subarray(12))).toBe(true)
  return timestamp
}

const textOf = (note: string): string => note.slice(0, note.indexOf('\n\n') + 1)

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-witness-int-'))
})

afterEach(async () => {
  await stop()
  await rm(data, { recursive: true, force: true })
})

describe('runWitness over HTTP', () => {
  it('creates its key on first start, mode 0600, and keeps it across restarts', async () => {
    const first = await start()
    const keyFile = join(data, 'witness.key')
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    const signerKey = (await readFile(keyFile, 'utf8')).trim()
    expect(signerKey.startsWith(`PRIVATE+KEY+${NAME}+`)).toBe(true)
    expect(parseSignerKey(signerKey).type).toBe(0x04)
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:[0-9]+$/)
    const verifierKey = first.verifierKey
    await stop()
    expect((await start()).verifierKey).toBe(verifierKey)
    await stop()
    await expect(runWitness({ data, name: 'witness.example/other', logs: [log.verifierKey] })).rejects.toThrow(RangeError)
  })

  it('cosigns checkpoints that verify independently, with the current time', async () => {
    const witness = await start(() => new Date(1_750_000_000_500))
    const response = await post(witness, log.body(0, 100))
    expect(response.status).toBe(200)
    const line = await response.text()
    expect(independentlyVerify(witness.verifierKey, textOf(log.checkpoint(100)), line)).toBe(1_750_000_000)
    const again = await post(witness, log.body(100, 1000))
    expect(independentlyVerify(witness.verifierKey, textOf(log.checkpoint(1000)), await again.text())).toBe(1_750_000_000)
    // The monitoring read serves the same cosignature on the log's checkpoint.
    const served = await (await fetch(`${witness.url}/${originHash(log.origin)}/checkpoint`)).text()
    expect(served.startsWith(log.checkpoint(1000))).toBe(true)
    expect(independentlyVerify(witness.verifierKey, textOf(served), served.slice(served.lastIndexOf('\u2014')))).toBe(1_750_000_000)
  })

  it('re-cosigns the witnessed checkpoint with a fresh timestamp', async () => {
    let now = 1_760_000_000_000
    const witness = await start(() => new Date(now))
    await post(witness, log.body(0, 500))
    now += 61_000
    const line = await (await post(witness, log.body(500, 500))).text()
    expect(independentlyVerify(witness.verifierKey, textOf(log.checkpoint(500)), line)).toBe(1_760_000_061)
  })

  it('answers every status the spec names', async () => {
    const witness = await start()
    const impostor = new TestLog(log.origin)
    impostor.append(600)
    const fork = log.fork(300)
    fork.append(200)
    const stranger = new TestLog('example.com/int-unknown')
    stranger.append(1)
    const flipped = log.proof(500, 600).map((hash, i) => (i === 0 ? hash.map((b, j) => (j === 0 ? b ^ 1 : b)) : hash))
    expect((await post(witness, log.body(0, 500))).status).toBe(200)
    const cases: [string, string, number][] = [
      ['unknown origin', stranger.body(0, 1), 404],
      ['wrong key', impostor.body(500, 600), 403],
      ['old above the checkpoint size', formatAddCheckpoint(600, [], log.checkpoint(500)), 400],
      ['malformed body', `old 500\nnot base64\n\n${log.checkpoint(600)}`, 400],
      ['rollback', log.body(400, 450), 409],
      ['rollback from the witnessed size', formatAddCheckpoint(500, [], log.checkpoint(450)), 400],
      ['bad proof', formatAddCheckpoint(500, flipped, log.checkpoint(600)), 422],
      ['proof from old 0', formatAddCheckpoint(0, log.proof(3, 5), second.checkpoint(5)), 422],
      ['oversized body', `old 500\n\n${'x'.repeat(17_000)}`, 413],
    ]
    for (const [what, body, status] of cases) expect([what, (await post(witness, body)).status]).toEqual([what, status])
    const conflict = await post(witness, log.body(400, 600))
    expect(conflict.headers.get('content-type')).toBe('text/x.tlog.size')
    expect(await conflict.text()).toBe('500\n')
    // A fork at equal size is 422, and a split view: the origin is cosigned no more.
    expect((await post(witness, formatAddCheckpoint(500, [], fork.checkpoint(500)))).status).toBe(422)
    expect((await post(witness, log.body(500, 600))).status).toBe(403)
    const info = await (await fetch(`${witness.url}/v1/witness`)).json() as { logs: { checkpoint: { size: number } | null }[] }
    expect(info.logs.map((l) => l.checkpoint?.size ?? null)).toEqual([500, null])
  })

  it('answers a chunked upload over 16 KiB with a 413 problem, then closes the connection', async () => {
    const witness = await start()
    // 64 KiB and no last chunk: only the witness can end this exchange.
    const reply = await exchange(Number(new URL(witness.url).port),
      ['POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', ...UNENDING_CHUNKED_BODY])
    const [head, body] = reply.split('\r\n\r\n') as [string, string]
    expect(head).toMatch(/^HTTP\/1\.1 413 /)
    expect(head).toMatch(/\r\nconnection: close(?:\r\n|$)/i)
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json(?:\r\n|$)/i)
    expect(JSON.parse(body)).toMatchObject({ status: 413, code: 'BODY_TOO_LARGE' })
  })

  it('lets exactly one of two racing updates from the same old size win', async () => {
    const witness = await start()
    await post(witness, log.body(0, 100))
    for (let round = 0; round < 10; round++) {
      const from = 100 + round * 50
      const [a, b] = await Promise.all([post(witness, log.body(from, from + 20)), post(witness, log.body(from, from + 50))])
      const statuses = [a.status, b.status]
      expect(statuses.sort()).toEqual([200, 409])
      // The loser learns the winner's size; the next round continues from the larger one.
      const loser = a.status === 409 ? a : b
      const winnerSize = Number((await loser.text()).trim())
      expect([from + 20, from + 50]).toContain(winnerSize)
      if (winnerSize !== from + 50) expect((await post(witness, log.body(winnerSize, from + 50))).status).toBe(200)
    }
  })

  it('keeps its state across a restart', async () => {
    let witness = await start()
    await post(witness, log.body(0, 10))
    const line = await (await post(witness, log.body(10, 700))).text()
    const before = await (await fetch(`${witness.url}/${originHash(log.origin)}/checkpoint`)).text()
    await stop()
    witness = await start()
    expect(await (await fetch(`${witness.url}/${originHash(log.origin)}/checkpoint`)).text()).toBe(before)
    expect(before.endsWith(line)).toBe(true)
    const stale = await post(witness, log.body(10, 800))
    expect([stale.status, await stale.text()]).toEqual([409, '700\n'])
    expect((await post(witness, log.body(700, 800))).status).toBe(200)
  })

  it('refuses a second witness on the same directory', async () => {
    await start()
    const error = await runWitness({ data, name: NAME, logs: [log.verifierKey] }).catch((e: unknown) => e)
    expect(isStorageError(error, 'DATABASE_LOCKED')).toBe(true)
  })
})

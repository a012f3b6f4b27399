import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeBase64, generateKeyPair, parseSignerKey, signCheckpoint } from '@annal/note'
import { MemoryTree, bytesToHex, defaultHasher } from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { liveHarness, type LiveHarness } from '../../server/src/testing/fixture.js'
import { LogClient, type Fetch } from './log-client.js'
import { parsePolicy, type Policy } from './policy.js'
import { verifyProof } from './proof.js'
import { SplitViewError } from './split-view.js'
import { expectRejection } from './testing/expect.js'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const events = Array.from({ length: 9 }, (_, i) => utf8(`{"event":${i}}`))

let live: LiveHarness
let policy: Policy
let logUrl: string

beforeAll(async () => {
  live = await liveHarness()
  const info = await live.ledger.createLog('main')
  await live.ledger.log('main').append(events.slice(0, 5))
  policy = parsePolicy(`log ${info.verifierKey}\nquorum none\n`)
  logUrl = live.url('/v1/logs/main')
})

afterAll(async () => {
  await live?.close()
})

/** A fetch that serves the real answer for URLs matching `pattern`, with its body edited. */
function tampering(pattern: RegExp, edit: (body: string) => string): Fetch {
  return async (input, init) => {
    const response = await fetch(input, init)
    if (!pattern.test(input)) return response
    return new Response(edit(await response.text()), { status: response.status, headers: response.headers })
  }
}

/** Flips one hex digit of the first hash in a JSON `proof` list. */
function flipFirstProofHash(body: string): string {
  const json = JSON.parse(body) as { proof: string[] }
  const first = json.proof[0]!
  json.proof[0] = (first[0] === '0' ? '1' : '0') + first.slice(1)
  return JSON.stringify(json)
}

describe('LogClient against a running server', () => {
  it('verifies the checkpoint against the policy', async () => {
    const trusted = await new LogClient(logUrl, { policy }).checkpoint()
    expect(trusted.checkpoint.size).toBeGreaterThanOrEqual(5)
    expect(trusted.checkpoint.origin).toBe('annal.test/main')
  })

  it('proves an entry by index, bytes, id and abbreviated id', async () => {
    const token = await live.mint.token({ scope: 'log:read' })
    const client = new LogClient(logUrl, { policy, token })
    const id = bytesToHex(defaultHasher.leaf(events[3]!))
    for (const ref of [3, '3', events[3]!, id, id.slice(0, 12)]) {
      const inclusion = await client.inclusion(ref)
      expect(inclusion.index).toBe(3)
      expect(bytesToHex(inclusion.leafHash)).toBe(id)
    }
  })

  it('builds a tlog-proof that verifies offline', async () => {
    const proof = await new LogClient(logUrl, { policy }).proofFile(events[2]!, { extra: utf8('context') })
    const verified = verifyProof(proof, events[2]!, policy)
    expect([verified.index, new TextDecoder().decode(verified.extra)]).toEqual([2, 'context'])
  })

  it('builds the same file the server serves', async () => {
    const token = await live.mint.token({ scope: 'log:read' })
    const served = await fetch(`${logUrl}/entries/4/proof`, { headers: { Authorization: `Bearer ${token}` } })
    expect(served.status).toBe(200)
    expect(await new LogClient(logUrl, { policy }).proofFile(4)).toBe(await served.text())
  })

  it('proves a newer checkpoint consistent with a trusted one', async () => {
    const client = new LogClient(logUrl, { policy })
    const old = await client.checkpoint()
    await live.ledger.log('main').append(events.slice(5, 7))
    const newer = await client.consistency(old)
    expect(newer.checkpoint.size).toBe(old.checkpoint.size + 2)
    expect((await client.consistency(old.checkpoint.note)).checkpoint.size).toBe(newer.checkpoint.size)
    expect((await client.consistency(newer)).checkpoint.size).toBe(newer.checkpoint.size)
  })

  it('refuses a checkpoint the policy does not vouch for', async () => {
    const stranger = generateKeyPair('annal.test/main').verifierKey
    const other = new LogClient(logUrl, { policy: parsePolicy(`log ${stranger}\nquorum none\n`) })
    await expectRejection(other.checkpoint(), 'SIGNATURE_INVALID')
    const elsewhere = generateKeyPair('annal.test/elsewhere').verifierKey
    await expectRejection(new LogClient(logUrl, { policy: parsePolicy(`log ${elsewhere}\nquorum none\n`) }).checkpoint(), 'LOG_UNKNOWN')
  })

  it('refuses a tampered checkpoint', async () => {
    const fetch = tampering(/\/checkpoint$/, (note) => note.replace(/\n(\d+)\n/, (_, size: string) => `\n${Number(size) + 1}\n`))
    await expectRejection(new LogClient(logUrl, { policy, fetch }).checkpoint(), 'SIGNATURE_INVALID')
  })

  it('refuses a tampered inclusion proof', async () => {
    const fetch = tampering(/\/proof\/inclusion\?/, flipFirstProofHash)
    await expectRejection(new LogClient(logUrl, { policy, fetch }).inclusion(events[1]!), 'INCLUSION_FAILED')
    await expectRejection(new LogClient(logUrl, { policy, fetch }).proofFile(1), 'INCLUSION_FAILED')
  })

  it('refuses a proof of another entry', async () => {
    const other = bytesToHex(defaultHasher.leaf(events[0]!))
    const fetch = tampering(/\/proof\/inclusion\?/, (body) => body.replace(/"leaf_hash":"[0-9a-f]+"/, `"leaf_hash":"${other}"`))
    await expectRejection(new LogClient(logUrl, { policy, fetch }).inclusion(events[1]!), 'ENTRY_MISMATCH')
    const shifted = tampering(/\/proof\/inclusion\?/, (body) => body.replace('"index":1,', '"index":0,'))
    await expectRejection(new LogClient(logUrl, { policy, fetch: shifted }).inclusion(1), 'ENTRY_MISMATCH')
  })

  it('refuses a tampered consistency proof, and a rollback', async () => {
    const client = new LogClient(logUrl, { policy })
    const old = await client.checkpoint()
    await live.ledger.log('main').append(events.slice(7, 9))
    const fetch = tampering(/\/proof\/consistency\?/, flipFirstProofHash)
    await expectRejection(new LogClient(logUrl, { policy, fetch }).consistency(old), 'CONSISTENCY_FAILED')
    const newer = await client.consistency(old)
    const rollback = tampering(/\/checkpoint$/, () => old.checkpoint.note)
    await expectRejection(new LogClient(logUrl, { policy, fetch: rollback }).consistency(newer), 'CONSISTENCY_FAILED')
  })

  it('shows a fork signed by the log key as a split view, with the evidence', async () => {
    const old = await new LogClient(logUrl, { policy }).checkpoint()
    const signer = parseSignerKey((await readFile(join(live.ledger.directory, 'keys', 'main.key'), 'utf8')).trim())
    const fork = new MemoryTree()
    for (let i = 0; i < old.checkpoint.size + 3; i++) fork.append(defaultHasher.leaf(utf8(`fork ${i}`)))
    const forged = (size: number): string =>
      signCheckpoint({ origin: old.checkpoint.origin, size, rootHash: fork.root(size), extensions: [] }, signer)
    const cases = [
      { size: old.checkpoint.size, proof: [] },
      { size: fork.size, proof: fork.consistencyProof(old.checkpoint.size, fork.size) },
    ]
    for (const { size, proof } of cases) {
      // The forked view: its checkpoint, and its consistency proof from the trusted size.
      const fetch: Fetch = async (input) => input.endsWith('/checkpoint') ? new Response(forged(size))
        : Response.json({ from: old.checkpoint.size, to: size, proof: proof.map(bytesToHex) })
      const error = await expectRejection(new LogClient(logUrl, { policy, fetch }).consistency(old), 'SPLIT_VIEW')
      expect(error).toBeInstanceOf(SplitViewError)
      expect((error as SplitViewError).evidence).toEqual({
        old: old.checkpoint.note, new: forged(size), oldSizeRoot: encodeBase64(fork.root(old.checkpoint.size)), proof: proof.map(() => expect.any(String)),
      })
    }
  })

  it('says what the server refused', async () => {
    const client = new LogClient(logUrl, { policy })
    const error = await expectRejection(client.inclusion(utf8('never appended')), 'RESPONSE_INVALID')
    expect(error.message).toMatch(/answered 404 ENTRY_NOT_FOUND/)
    const anonymous = await expectRejection(client.inclusion('abcdef12'), 'RESPONSE_INVALID')
    expect(anonymous.message).toMatch(/answered 401 TOKEN_MISSING/)
    // Digits with a leading zero are an abbreviated id, as the server reads them: it is asked.
    expect((await expectRejection(client.inclusion('0007'), 'RESPONSE_INVALID')).message).toMatch(/answered 401 TOKEN_MISSING/)
  })
})

import { describe, expect, it } from 'vitest'
import { translate, verifyCheckpoint } from './checkpoint.js'
import { ClientError } from './errors.js'
import { parsePolicy } from './policy.js'
import { TLOG_PROOF_HEADER } from '@annal/note'
import { formatProof, parseProof, verifyProof } from './proof.js'
import { expectClientError } from './testing/expect.js'
import { policyFor, testLog } from './testing/world.js'

const log = testLog('example.com/proofs', 6, ['a', 'b', 'c'])
const entry = (index: number): Uint8Array => log.entries[index]!

describe('verifyProof', () => {
  it('verifies every entry of every tree size', () => {
    const policy = parsePolicy(policyFor(log, '2'))
    for (let size = 1; size <= 6; size++) {
      for (let index = 0; index < size; index++) {
        const verified = verifyProof(log.proof(index, size, { cosigners: ['a', 'c'] }), entry(index), policy)
        expect([verified.index, verified.trusted.checkpoint.size, verified.trusted.witnesses]).toEqual([index, size, ['a', 'c']])
      }
    }
  })

  it('checks in the order of the spec: log, then quorum, then inclusion', () => {
    const policy = parsePolicy(policyFor(log))
    const stranger = testLog('example.com/stranger', 6, [])
    const wrongIndex = (text: string): string => text.replace('\nindex 2\n', '\nindex 3\n')
    expectClientError(() => verifyProof(wrongIndex(stranger.proof(2, 6)), entry(2), policy), 'LOG_UNKNOWN')
    expectClientError(() => verifyProof(wrongIndex(log.proof(2, 6, { cosigners: ['a', 'b'] })), entry(2), policy), 'QUORUM_UNMET')
    expectClientError(() => verifyProof(wrongIndex(log.proof(2, 6)), entry(2), policy), 'INCLUSION_FAILED')
  })

  it('takes quorum none, and ignores cosignatures of witnesses it does not know', () => {
    const policy = parsePolicy(`log ${log.logKey}\nquorum none\n`)
    expect(verifyProof(log.proof(1, 4), entry(1), policy).trusted.witnesses).toEqual([])
    expect(verifyProof(log.proof(1, 4, { cosigners: [] }), entry(1), policy).index).toBe(1)
  })

  it('needs a log key named after the origin', () => {
    const renamed = testLog('example.com/renamed', 2, [])
    const policy = parsePolicy(`log ${renamed.logKey}\nquorum none\n`)
    const proof = log.proof(0, 2).replaceAll('example.com/proofs', 'example.com/renamed')
    expectClientError(() => verifyProof(proof, entry(0), policy), 'SIGNATURE_INVALID')
  })

  it('hands back the extra data without trusting it', () => {
    const policy = parsePolicy(policyFor(log))
    const proof = log.proof(3, 5, { extra: Uint8Array.of(1, 2, 3) })
    expect(verifyProof(proof, entry(3), policy).extra).toEqual(Uint8Array.of(1, 2, 3))
    const other = proof.replace('\nextra AQID\n', '\nextra BAUG\n')
    expect(verifyProof(other, entry(3), policy).extra).toEqual(Uint8Array.of(4, 5, 6))
  })

  it('refuses an index past the tree', () => {
    const policy = parsePolicy(policyFor(log))
    expectClientError(() => verifyProof(log.proof(3, 4).replace('\nindex 3\n', '\nindex 4\n'), entry(3), policy), 'INCLUSION_FAILED')
    expectClientError(() => verifyProof(log.proof(3, 4).replace('\nindex 3\n', '\nindex 9007199254740992\n'), entry(3), policy), 'PROOF_MALFORMED', 2)
  })
})

describe('parseProof', () => {
  const good = log.proof(2, 6)

  it('refuses a checkpoint that is not a note', () => {
    expectClientError(() => parseProof(`${TLOG_PROOF_HEADER}\nindex 0\n\nexample.com/proofs\n1\n`), 'CHECKPOINT_MALFORMED')
  })

  it('refuses an extra line after the index, or an index line missing', () => {
    expectClientError(() => parseProof(good.replace('\nindex 2\n', '\nindex 2\nextra AQID\n')), 'PROOF_MALFORMED', 3)
    expectClientError(() => parseProof(good.replace('\nindex 2\n', '\n')), 'PROOF_MALFORMED', 2)
    expectClientError(() => parseProof(good.replace('\nindex 2\n', '\nindex  2\n')), 'PROOF_MALFORMED', 2)
  })

  it('refuses bytes that are not UTF-8', () => {
    const bytes = new TextEncoder().encode(good)
    bytes[bytes.length - 5] = 0xff
    expectClientError(() => parseProof(bytes), 'PROOF_MALFORMED')
  })

  it('formats only what it can parse', () => {
    const proof = parseProof(good)
    expect(() => formatProof({ ...proof, index: -1 })).toThrow(RangeError)
    expect(() => formatProof({ ...proof, hashes: [new Uint8Array(31)] })).toThrow(RangeError)
    expect(() => formatProof({ ...proof, checkpoint: 'not a note\n' })).toThrow(RangeError)
  })
})

describe('errors from tlog and note', () => {
  it('are told apart by their code, whatever their class', () => {
    class OtherError extends Error {
      readonly code = 'SIGNATURE_INVALID'
    }
    const run = (error: unknown) => () => translate(error, { SIGNATURE_INVALID: 'SIGNATURE_INVALID' }, 'checking')
    expectClientError(run(new OtherError('bad')), 'SIGNATURE_INVALID')
    expect(run(new RangeError('misuse'))).toThrow(RangeError)
    expect(run(Object.assign(new Error('other'), { code: 'HEAD_CONFLICT' }))).toThrow('other')
  })

  it('keep the cause', () => {
    const policy = parsePolicy(policyFor(log))
    const note = log.checkpoint(3).replace('\n3\n', '\n4\n')
    const error = expectClientError(() => verifyCheckpoint(note, policy), 'SIGNATURE_INVALID') as ClientError
    expect((error.cause as { code?: string }).code).toMatch(/^(?:NOTE_UNVERIFIED|SIGNATURE_INVALID)$/)
  })
})

import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { ClientErrorCode } from './errors.js'
import { parsePolicy } from './policy.js'
import { parseProof, verifyProof } from './proof.js'
import { expectClientError } from './testing/expect.js'

const read = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../testdata/${name}`, import.meta.url)))
// The vectors that do not parse live with the format, in @annal/note.
const readMalformed = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../note/testdata/tlog-proof/malformed/${name}.tlog-proof`, import.meta.url)))
const policy = parsePolicy(read('policy.txt'))
const entry5 = read('entry-5.txt')

describe('the pinned tlog-proof vectors', () => {
  it('verifies the valid proofs', () => {
    const verified = verifyProof(read('valid/entry-5.tlog-proof'), entry5, policy)
    expect(verified.index).toBe(5)
    expect(verified.trusted.witnesses).toEqual(['w1', 'w2'])
    expect(verified.trusted.checkpoint.size).toBe(11)
    expect(verified.extra).toBeUndefined()
    const extra = verifyProof(read('valid/entry-5-extra.tlog-proof'), entry5, policy)
    expect(new TextDecoder().decode(extra.extra)).toBe('age-v1.2.1-darwin-arm64.tar.gz')
    const first = verifyProof(read('valid/entry-0-size-1.tlog-proof'), read('entry-0.txt'), policy)
    expect([first.index, first.trusted.checkpoint.size]).toEqual([0, 1])
    expect(parseProof(read('valid/entry-0-size-1.tlog-proof')).hashes).toEqual([])
  })

  it('refuses the proof of one entry for another', () => {
    expectClientError(() => verifyProof(read('valid/entry-5.tlog-proof'), read('entry-0.txt'), policy), 'INCLUSION_FAILED')
  })

  const malformed: [string, ClientErrorCode, number][] = [
    ['no-header', 'PROOF_MALFORMED', 1],
    ['crlf', 'PROOF_MALFORMED', 1],
    ['index-leading-zero', 'PROOF_MALFORMED', 2],
    ['index-signed', 'PROOF_MALFORMED', 2],
    ['extra-bad-base64', 'PROOF_MALFORMED', 2],
    ['hash-bad-base64', 'PROOF_MALFORMED', 3],
    ['hash-short', 'PROOF_MALFORMED', 3],
    // Without the empty line the first blank is the note's own, so the checkpoint's origin is
    // read where a hash should be.
    ['no-empty-line', 'PROOF_MALFORMED', 7],
  ]
  it.each(malformed)('refuses malformed/%s.tlog-proof with %s at line %i', (name, code, line) => {
    expectClientError(() => parseProof(readMalformed(name)), code, line)
    expectClientError(() => verifyProof(readMalformed(name), entry5, policy), code, line)
  })

  const invalid: [string, ClientErrorCode][] = [
    ['wrong-index', 'INCLUSION_FAILED'],
    ['quorum-unmet', 'QUORUM_UNMET'],
    ['unknown-log', 'LOG_UNKNOWN'],
    ['cosignature-invalid', 'SIGNATURE_INVALID'],
    ['log-signature-invalid', 'SIGNATURE_INVALID'],
  ]
  it.each(invalid)('refuses invalid/%s.tlog-proof with %s', (name, code) => {
    parseProof(read(`invalid/${name}.tlog-proof`))
    expectClientError(() => verifyProof(read(`invalid/${name}.tlog-proof`), entry5, policy), code)
  })
})

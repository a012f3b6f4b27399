import { readFileSync } from 'node:fs'
import { MemoryTree, defaultHasher, isTlogError } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { encodeBase64 } from './base64.js'
import { signCheckpoint } from './checkpoint.js'
import { isNoteError } from './errors.js'
import { generateKeyPair, parseSignerKey } from './keys.js'
import { TLOG_PROOF_HEADER, formatTlogProof, parseTlogProof } from './tlog-proof.js'

const origin = 'example.com/proof-log'
const signer = parseSignerKey(generateKeyPair(origin).signerKey)
const tree = new MemoryTree()
for (let i = 0; i < 6; i++) tree.append(defaultHasher.leaf(new TextEncoder().encode(`entry ${i}`)))
const checkpoint = signCheckpoint({ origin, size: 6, rootHash: tree.root(6), extensions: [] }, signer)
const hashes = tree.inclusionProof(2, 6)
const good = `${TLOG_PROOF_HEADER}\nindex 2\n${hashes.map((hash) => `${encodeBase64(hash)}\n`).join('')}\n${checkpoint}`

/** The code and line of what parsing `input` throws; undefined if it parses. */
function refusal(input: string | Uint8Array): [string, number | undefined] | undefined {
  try {
    parseTlogProof(input)
    return undefined
  } catch (error) {
    if (isNoteError(error)) return [error.code, error.line]
    if (isTlogError(error)) return [error.code, undefined]
    throw error
  }
}

describe('parseTlogProof', () => {
  it('parses the index, the hashes and the checkpoint verbatim, from text or bytes', () => {
    const proof = parseTlogProof(good)
    expect(proof).toEqual({ extra: undefined, index: 2, hashes, checkpoint })
    expect(parseTlogProof(new TextEncoder().encode(good))).toEqual(proof)
  })

  it('round-trips formatTlogProof, with extra data and with no hashes', () => {
    const extra = new TextEncoder().encode('age-v1.2.1-darwin-arm64.tar.gz')
    expect(formatTlogProof({ index: 2, hashes, checkpoint })).toBe(good)
    const withExtra = formatTlogProof({ extra, index: 2, hashes, checkpoint })
    expect(withExtra).toBe(good.replace('\nindex 2\n', `\nextra ${encodeBase64(extra)}\nindex 2\n`))
    expect(parseTlogProof(withExtra)).toEqual({ extra, index: 2, hashes, checkpoint })
    const single = formatTlogProof({ index: 0, hashes: [], checkpoint })
    expect(single).toBe(`${TLOG_PROOF_HEADER}\nindex 0\n\n${checkpoint}`)
    expect(parseTlogProof(single).hashes).toEqual([])
  })

  const cases: [string, string | Uint8Array, string, number | undefined][] = [
    ['an extra line after the index', good.replace('\nindex 2\n', '\nindex 2\nextra AQID\n'), 'PROOF_FILE_MALFORMED', 3],
    ['no index line', good.replace('\nindex 2\n', '\n'), 'PROOF_FILE_MALFORMED', 2],
    ['two spaces before the index', good.replace('\nindex 2\n', '\nindex  2\n'), 'PROOF_FILE_MALFORMED', 2],
    ['an index above 2^53 - 1', good.replace('\nindex 2\n', '\nindex 9007199254740992\n'), 'PROOF_FILE_MALFORMED', 2],
    ['bytes that are not UTF-8', Uint8Array.of(...new TextEncoder().encode(good).subarray(0, 40), 0xff), 'PROOF_FILE_MALFORMED', 1],
    ['a checkpoint that is not a note', `${TLOG_PROOF_HEADER}\nindex 0\n\n${origin}\n1\n`, 'NOTE_MALFORMED', undefined],
    ['a note that is not a checkpoint', `${TLOG_PROOF_HEADER}\nindex 0\n\n${checkpoint.replace('\n6\n', '\n06\n')}`, 'CHECKPOINT_MALFORMED', undefined],
  ]
  it.each(cases)('refuses %s', (_name, input, code, line) => {
    expect(refusal(input)).toEqual([code, line])
  })

  it('says where in its message', () => {
    expect(() => parseTlogProof(good.replace('\nindex 2\n', '\nindex 02\n'))).toThrow(/^line 2: expected index/)
  })
})

describe('the pinned malformed vectors', () => {
  const read = (name: string): Uint8Array =>
    new Uint8Array(readFileSync(new URL(`../testdata/tlog-proof/malformed/${name}.tlog-proof`, import.meta.url)))
  const vectors: [string, number][] = [
    ['no-header', 1],
    ['crlf', 1],
    ['index-leading-zero', 2],
    ['index-signed', 2],
    ['extra-bad-base64', 2],
    ['hash-bad-base64', 3],
    ['hash-short', 3],
    // Without the empty line the first blank is the note's own, so the checkpoint's origin is
    // read where a hash should be.
    ['no-empty-line', 7],
  ]
  it.each(vectors)('refuses %s.tlog-proof at line %i', (name, line) => {
    expect(refusal(read(name))).toEqual(['PROOF_FILE_MALFORMED', line])
  })
})

describe('formatTlogProof', () => {
  it('formats only what it can parse', () => {
    const proof = parseTlogProof(good)
    expect(() => formatTlogProof({ ...proof, index: -1 })).toThrow(RangeError)
    expect(() => formatTlogProof({ ...proof, index: 1.5 })).toThrow(RangeError)
    expect(() => formatTlogProof({ ...proof, hashes: [new Uint8Array(31)] })).toThrow(RangeError)
    expect(() => formatTlogProof({ ...proof, checkpoint: 'not a note\n' })).toThrow(RangeError)
  })
})

import { MemoryTree, defaultHasher, isTlogError } from '@annal/tlog'
import { describe, expect, it } from 'vitest'
import { MAX_ADD_CHECKPOINT_SIZE, MAX_PROOF_LINES, formatAddCheckpoint, parseAddCheckpoint } from './add-checkpoint.js'
import { signCheckpoint } from './checkpoint.js'
import { isNoteError } from './errors.js'
import { generateKeyPair, parseSignerKey } from './keys.js'

const origin = 'example.com/request-log'
const signer = parseSignerKey(generateKeyPair(origin).signerKey)
const tree = new MemoryTree()
for (let i = 0; i < 20; i++) tree.append(defaultHasher.leaf(new TextEncoder().encode(`entry ${i}`)))
const checkpoint = signCheckpoint({ origin, size: 20, rootHash: tree.root(20), extensions: [] }, signer)
const proof = tree.consistencyProof(13, 20)
const hashLine = (hash: Uint8Array): string => btoa(String.fromCharCode(...hash))
const proofText = proof.map((hash) => `${hashLine(hash)}\n`).join('')

function code(body: string | Uint8Array): string | undefined {
  try {
    parseAddCheckpoint(body)
    return undefined
  } catch (error) {
    if (!isNoteError(error) && !isTlogError(error)) throw error
    return error.code
  }
}

describe('parseAddCheckpoint', () => {
  it('parses the old size, the proof and the note, and reads the origin', () => {
    const request = parseAddCheckpoint(`old 13\n${proofText}\n${checkpoint}`)
    expect(request.oldSize).toBe(13)
    expect(request.proof).toEqual(proof)
    expect(request.note).toBe(checkpoint)
    expect(request.origin).toBe('example.com/request-log')
  })

  it('accepts old 0 with no proof lines, and bytes as well as strings', () => {
    const body = new TextEncoder().encode(`old 0\n\n${checkpoint}`)
    expect(parseAddCheckpoint(body)).toMatchObject({ oldSize: 0, proof: [], note: checkpoint })
  })

  it('round-trips formatAddCheckpoint', () => {
    const body = formatAddCheckpoint(13, proof, checkpoint)
    expect(body).toBe(`old 13\n${proofText}\n${checkpoint}`)
    expect(parseAddCheckpoint(body)).toMatchObject({ oldSize: 13, proof, note: checkpoint })
  })

  it('accepts exactly 63 proof lines and refuses 64', () => {
    const line = `${hashLine(proof[0]!)}\n`
    expect(parseAddCheckpoint(`old 13\n${line.repeat(MAX_PROOF_LINES)}\n${checkpoint}`).proof).toHaveLength(63)
    expect(code(`old 13\n${line.repeat(MAX_PROOF_LINES + 1)}\n${checkpoint}`)).toBe('ADD_CHECKPOINT_MALFORMED')
  })

  const first = hashLine(proof[0]!)
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const malformedOld: [string, string][] = [
    ['no old line', `${proofText}\n${checkpoint}`],
    ['capital Old', `Old 13\n${proofText}\n${checkpoint}`],
    ['no space', `old13\n${proofText}\n${checkpoint}`],
    ['two spaces', `old  13\n${proofText}\n${checkpoint}`],
    ['a tab', `old\t13\n${proofText}\n${checkpoint}`],
    ['a trailing space', `old 13 \n${proofText}\n${checkpoint}`],
    ['a leading zero', `old 013\n${proofText}\n${checkpoint}`],
    ['00', `old 00\n\n${checkpoint}`],
    ['a sign', `old +13\n${proofText}\n${checkpoint}`],
    ['a negative size', `old -1\n\n${checkpoint}`],
    ['a fraction', `old 13.0\n${proofText}\n${checkpoint}`],
    ['an exponent', `old 1e1\n${proofText}\n${checkpoint}`],
    ['hex', `old 0x0d\n${proofText}\n${checkpoint}`],
    ['no size', `old \n\n${checkpoint}`],
    ['CRLF', `old 13\r\n${proofText}\n${checkpoint}`],
    ['a leading empty line', `\nold 13\n${proofText}\n${checkpoint}`],
    ['non-ASCII digits', `old \u0661\u0663\n${proofText}\n${checkpoint}`],
  ]
  for (const [what, body] of malformedOld) {
    it(`refuses an old line with ${what}`, () => {
      expect(code(body)).toBe('ADD_CHECKPOINT_MALFORMED')
    })
  }

  it('refuses old sizes above 2^53 - 1', () => {
    expect(code(`old 9007199254740992\n${proofText}\n${checkpoint}`)).toBe('SIZE_OUT_OF_RANGE')
    expect(code(`old 99999999999999999999\n${proofText}\n${checkpoint}`)).toBe('ADD_CHECKPOINT_MALFORMED')
  })

  const malformedProof: [string, string][] = [
    ['no base64', 'not a hash'],
    ['31 bytes', hashLine(proof[0]!.subarray(0, 31))],
    ['33 bytes', hashLine(new Uint8Array(33))],
    ['no padding', first.slice(0, -1)],
    ['non-zero trailing bits', `${first.slice(0, 42)}${ALPHABET[ALPHABET.indexOf(first[42]!) | 1]}=`],
    ['URL-safe base64', hashLine(new Uint8Array(32).fill(0xff)).replaceAll('/', '_')],
    ['a space', ` ${first}`],
    ['a CR', `${first}\r`],
  ]
  for (const [what, line] of malformedProof) {
    it(`refuses a proof line with ${what}`, () => {
      expect(code(`old 13\n${line}\n\n${checkpoint}`)).toBe('ADD_CHECKPOINT_MALFORMED')
    })
  }

  it('refuses a body without the empty line', () => {
    expect(code(`old 13\n${proofText}`)).toBe('ADD_CHECKPOINT_MALFORMED')
    expect(code('old 0\n')).toBe('ADD_CHECKPOINT_MALFORMED')
    expect(code('')).toBe('ADD_CHECKPOINT_MALFORMED')
  })

  it('refuses a note that is not a signed checkpoint', () => {
    expect(code(`old 0\n\n${checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1)}`)).toBe('NOTE_MALFORMED')
    expect(code(`old 0\n\n${checkpoint.slice(0, -1)}`)).toBe('NOTE_MALFORMED')
    expect(code(`old 0\n\n\n${checkpoint}`)).toBe('CHECKPOINT_MALFORMED')
    expect(code(`old 0\n\n${checkpoint.replace('\n20\n', '\n020\n')}`)).toBe('CHECKPOINT_MALFORMED')
    expect(code(`old 0\n\n${checkpoint.replace('\n20\n', '\n9007199254740992\n')}`)).toBe('SIZE_OUT_OF_RANGE')
  })

  it('refuses bodies that are not UTF-8', () => {
    const bytes = new TextEncoder().encode(`old 0\n\n${checkpoint}`)
    const bad = new Uint8Array([...bytes.subarray(0, 8), 0xff, ...bytes.subarray(8)])
    expect(code(bad)).toBe('ADD_CHECKPOINT_MALFORMED')
  })

  it('takes bodies of up to 16 KiB and refuses larger ones', () => {
    const bodyWith = (extension: number): string => {
      const note = signCheckpoint({ origin, size: 20, rootHash: tree.root(20), extensions: ['x'.repeat(extension)] }, signer)
      return `old 0\n\n${note}`
    }
    const overhead = new TextEncoder().encode(bodyWith(1)).length - 1
    const exact = bodyWith(MAX_ADD_CHECKPOINT_SIZE - overhead)
    expect(new TextEncoder().encode(exact).length).toBe(MAX_ADD_CHECKPOINT_SIZE)
    expect(parseAddCheckpoint(exact).oldSize).toBe(0)
    expect(parseAddCheckpoint(new TextEncoder().encode(exact)).oldSize).toBe(0)
    expect(code(bodyWith(MAX_ADD_CHECKPOINT_SIZE - overhead + 1))).toBe('ADD_CHECKPOINT_TOO_LARGE')
    expect(code(new Uint8Array(MAX_ADD_CHECKPOINT_SIZE + 1))).toBe('ADD_CHECKPOINT_TOO_LARGE')
    expect(code('\u00e9'.repeat(MAX_ADD_CHECKPOINT_SIZE / 2 + 1))).toBe('ADD_CHECKPOINT_TOO_LARGE')
  })
})

describe('formatAddCheckpoint', () => {
  it('refuses what it could not write canonically', () => {
    expect(() => formatAddCheckpoint(-1, [], checkpoint)).toThrow(RangeError)
    expect(() => formatAddCheckpoint(1.5, [], checkpoint)).toThrow(RangeError)
    expect(() => formatAddCheckpoint(1, Array(64).fill(proof[0]), checkpoint)).toThrow(RangeError)
    expect(() => formatAddCheckpoint(1, [new Uint8Array(31)], checkpoint)).toThrow(RangeError)
    expect(() => formatAddCheckpoint(1, [], checkpoint.slice(0, -1))).toThrow(RangeError)
  })
})

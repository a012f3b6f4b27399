import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type CosignatureSigner, SIGNATURE_TYPE_COSIGNATURE_V1, cosignCheckpoint, formatSignatureLine, generateKeyPair,
  openCheckpoint, parseNote, parseSignerKey, parseTlogProof, parseVerifierKey, verifyCosignatures,
} from '@annal/note'
import { defaultHasher, verifyInclusion } from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'

const utf8 = new TextEncoder()
const code = (code: string, name = 'NoteError') => expect.objectContaining({ name, code })

let directory: string
let ledger: Ledger

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-cosig-'))
  ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
  await ledger.createLog('audit')
})

afterEach(async () => {
  await ledger.close()
  await rm(directory, { recursive: true, force: true })
})

function witness(name: string): { signer: CosignatureSigner; verifierKey: string } {
  const keys = generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
  return { signer: parseSignerKey(keys.signerKey) as CosignatureSigner, verifierKey: keys.verifierKey }
}

/** A cosignature line by `signer` for `note`, at `timestamp`. */
function cosign(note: string, signer: CosignatureSigner, timestamp: number): string {
  const checkpoint = openCheckpoint(note, [parseVerifierKey(ledger.log('audit').info.verifierKey)])
  return formatSignatureLine(cosignCheckpoint(checkpoint, signer, timestamp))
}

describe('cosignatures kept with the checkpoint history', () => {
  it('appends kept lines after the log signature as one valid signature block', async () => {
    const log = ledger.log('audit')
    await log.append([utf8.encode('a'), utf8.encode('b')])
    const note = await log.checkpoint(2)
    expect(await log.cosignedCheckpoint(2)).toBe(note)
    const [w1, w2] = [witness('w1.example'), witness('w2.example')]
    await log.addCosignatures(2, [cosign(note, w1.signer, 1000)])
    await log.addCosignatures(2, [cosign(note, w2.signer, 1001).trimEnd()])
    const cosigned = await log.cosignedCheckpoint(2)
    expect(parseNote(cosigned).signatures.map((s) => s.name)).toEqual(['test.example/audit', 'w1.example', 'w2.example'])
    const verified = openCheckpoint(cosigned, [parseVerifierKey(log.info.verifierKey)])
    const found = verifyCosignatures(verified, [w1, w2].map((w) => parseVerifierKey(w.verifierKey)))
    expect(found.map((c) => [c.name, c.timestamp])).toEqual([['w1.example', 1000], ['w2.example', 1001]])
  })

  it('builds a tlog-proof of an entry in a cosigned checkpoint, carrying the note verbatim', async () => {
    const log = ledger.log('audit')
    await log.append([utf8.encode('a'), utf8.encode('b'), utf8.encode('c')])
    const note = await log.checkpoint(3)
    await log.addCosignatures(3, [cosign(note, witness('w1.example').signer, 1000)])
    const cosigned = await log.cosignedCheckpoint(3)
    const { id } = await log.entry(1)
    for (const ref of [1, id, id.slice(0, 8)]) {
      const proof = parseTlogProof(await log.tlogProof(ref, cosigned))
      expect([proof.index, proof.checkpoint]).toEqual([1, cosigned])
      const { size, rootHash } = openCheckpoint(cosigned, [parseVerifierKey(log.info.verifierKey)])
      verifyInclusion(1, size, defaultHasher.leaf(utf8.encode('b')), proof.hashes, rootHash)
    }
    await log.append([utf8.encode('d')])
    await expect(log.tlogProof(3, cosigned)).rejects.toEqual(code('SIZE_OUT_OF_RANGE', 'TlogError'))
  })

  it('replaces a line by the same key, keeps others, and survives a reopen', async () => {
    const log = ledger.log('audit')
    await log.append([utf8.encode('a')])
    const note = await log.checkpoint(1)
    const [w1, w2] = [witness('w1.example'), witness('w2.example')]
    await log.addCosignatures(1, [cosign(note, w1.signer, 10), cosign(note, w2.signer, 10)])
    await log.addCosignatures(1, [cosign(note, w1.signer, 20)])
    await ledger.close()
    ledger = await Ledger.open(directory, { originPrefix: 'test.example' })
    const reopened = ledger.log('audit')
    const lines = await reopened.cosignatures(1)
    expect(lines).toEqual([cosign(note, w1.signer, 20), cosign(note, w2.signer, 10)])
    const verified = openCheckpoint(await reopened.cosignedCheckpoint(1), [parseVerifierKey(reopened.info.verifierKey)])
    expect(verifyCosignatures(verified, [parseVerifierKey(w1.verifierKey)])[0]!.timestamp).toBe(20)
  })

  it('keeps both lines of concurrent adds', async () => {
    const log = ledger.log('audit')
    await log.append([utf8.encode('a')])
    const note = await log.checkpoint(1)
    const ws = [witness('w1.example'), witness('w2.example'), witness('w3.example')]
    await Promise.all(ws.map((w) => log.addCosignatures(1, [cosign(note, w.signer, 5)])))
    expect((await log.cosignatures(1)).length).toBe(3)
  })

  it('lists the history newest first and below a size', async () => {
    const log = ledger.log('audit')
    const w = witness('w1.example')
    for (let i = 1; i <= 3; i++) {
      await log.append([utf8.encode(`e${i}`)])
      if (i !== 2) await log.addCosignatures(i, [cosign(await log.checkpoint(i), w.signer, i)])
    }
    const sizes = async (below?: number) => {
      const out: number[] = []
      for await (const entry of log.cosignatureHistory(below)) out.push(entry.size)
      return out
    }
    expect(await sizes()).toEqual([3, 1])
    expect(await sizes(3)).toEqual([1])
    expect(await sizes(1)).toEqual([])
    // Another log's rows are not listed.
    await ledger.createLog('audit2')
    await ledger.log('audit2').append([utf8.encode('x')])
    const other = ledger.log('audit2')
    const otherNote = await other.checkpoint(1)
    const line = formatSignatureLine(cosignCheckpoint(openCheckpoint(otherNote, [parseVerifierKey(other.info.verifierKey)]), w.signer, 1))
    await other.addCosignatures(1, [line])
    expect(await sizes()).toEqual([3, 1])
  })

  it('refuses sizes without a checkpoint, bad lines and lines by the log key', async () => {
    const log = ledger.log('audit')
    await log.append([utf8.encode('a')])
    const note = await log.checkpoint(1)
    const line = cosign(note, witness('w1.example').signer, 1)
    await expect(log.addCosignatures(2, [line])).rejects.toEqual(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    await expect(log.cosignedCheckpoint(2)).rejects.toEqual(code('SIZE_OUT_OF_RANGE', 'TlogError'))
    await expect(log.addCosignatures(1, ['not a signature line'])).rejects.toEqual(code('NOTE_MALFORMED'))
    await expect(log.addCosignatures(1, ['\u2014 w1.example !!!'])).rejects.toEqual(code('NOTE_MALFORMED'))
    const own = `${parseNote(note).signatures.map(formatSignatureLine)[0]}`
    await expect(log.addCosignatures(1, [own])).rejects.toEqual(code('NOTE_MALFORMED'))
    expect(await log.cosignatures(1)).toEqual([])
  })
})

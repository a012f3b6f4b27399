import {
  SIGNATURE_TYPE_COSIGNATURE_V1, addCosignatures, cosignCheckpoint, generateKeyPair, openCheckpoint, parseSignerKey,
  signCheckpoint, type CosignatureSigner, type NoteSigner,
} from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { formatProof } from '../proof.js'

/** A log in memory with real keys: its signer, witnesses, entries and tree. */
export interface TestLog {
  readonly origin: string
  readonly signer: NoteSigner
  readonly logKey: string
  readonly witnesses: readonly { readonly name: string; readonly signer: CosignatureSigner; readonly vkey: string }[]
  readonly entries: readonly Uint8Array[]
  readonly tree: MemoryTree
  /** The checkpoint note of `size`, cosigned by the witnesses named (all by default). */
  checkpoint(size: number, cosigners?: readonly string[]): string
  /** A checkpoint note of any `size` and `rootHash`, signed by the log and cosigned as `checkpoint` is. */
  sign(size: number, rootHash: Uint8Array, cosigners?: readonly string[]): string
  /** A tlog-proof of entry `index` in the checkpoint of `size`. */
  proof(index: number, size: number, options?: { readonly extra?: Uint8Array; readonly cosigners?: readonly string[] }): string
}

/** A fixed time for cosignatures, so that a test's notes do not depend on the clock. */
const TIMESTAMP = 1_700_000_000

/** A log of `count` entries `entry 0`, `entry 1`, ... with witnesses of the given policy names. */
export function testLog(origin: string, count: number, witnessNames: readonly string[]): TestLog {
  const keys = generateKeyPair(origin)
  const signer = parseSignerKey(keys.signerKey)
  const witnesses = witnessNames.map((name) => {
    const pair = generateKeyPair(`${name}.witness.example`, { type: SIGNATURE_TYPE_COSIGNATURE_V1 })
    return { name, signer: parseSignerKey(pair.signerKey) as CosignatureSigner, vkey: pair.verifierKey }
  })
  const entries = Array.from({ length: count }, (_, i) => new TextEncoder().encode(`entry ${i}`))
  const tree = new MemoryTree()
  for (const entry of entries) tree.append(defaultHasher.leaf(entry))
  const sign = (size: number, rootHash: Uint8Array, cosigners = witnessNames): string => {
    const note = signCheckpoint({ origin, size, rootHash, extensions: [] }, signer)
    const opened = openCheckpoint(note, [signer.verifier])
    const chosen = witnesses.filter((witness) => cosigners.includes(witness.name))
    const lines = chosen.map((witness) => cosignCheckpoint(opened, witness.signer, TIMESTAMP))
    return chosen.length === 0 ? note : addCosignatures(opened, lines, chosen.map((witness) => witness.signer.verifier)).note
  }
  const checkpoint = (size: number, cosigners = witnessNames): string => sign(size, tree.root(size), cosigners)
  return {
    origin, signer, logKey: keys.verifierKey, witnesses, entries, tree, checkpoint, sign,
    proof: (index, size, options = {}) => formatProof({
      extra: options.extra, index, hashes: tree.inclusionProof(index, size), checkpoint: checkpoint(size, options.cosigners),
    }),
  }
}

/** A policy accepting `log`, with its witnesses in one group of threshold `threshold`. */
export function policyFor(log: TestLog, threshold: string = 'all'): string {
  const lines = [`log ${log.logKey}`, ...log.witnesses.map((witness) => `witness ${witness.name} ${witness.vkey}`)]
  if (log.witnesses.length === 0) return [...lines, 'quorum none', ''].join('\n')
  return [...lines, `group everyone ${threshold} ${log.witnesses.map((witness) => witness.name).join(' ')}`,
    'quorum everyone', ''].join('\n')
}

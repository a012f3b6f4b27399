import { formatAddCheckpoint, generateKeyPair, parseSignerKey, signCheckpoint, type NoteSigner } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'

const utf8 = new TextEncoder()

/** A log for tests: real leaves in a MemoryTree, checkpoints signed with a real Ed25519 key. */
export class TestLog {
  readonly origin: string
  readonly signer: NoteSigner
  readonly verifierKey: string
  readonly tree = new MemoryTree()
  readonly #keys: { readonly signerKey: string; readonly verifierKey: string }
  readonly #label: string

  constructor(origin: string, keys = generateKeyPair(origin), label = 'main') {
    this.origin = origin
    this.signer = parseSignerKey(keys.signerKey)
    this.verifierKey = keys.verifierKey
    this.#keys = keys
    this.#label = label
  }

  /** Appends `count` distinct leaves; returns the new size. */
  append(count: number): number {
    const start = this.tree.size
    const leaves = Array.from({ length: count }, (_, i) =>
      defaultHasher.leaf(utf8.encode(`${this.#label} entry ${start + i}`)))
    this.tree.appendMany(leaves)
    return this.tree.size
  }

  /**
   * A second log with the same origin and key, holding the first `shared` leaves of this one
   * and then its own: the two are a split view.
   */
  fork(shared: number): TestLog {
    const other = new TestLog(this.origin, this.#keys, `fork of ${this.#label}`)
    for (let i = 0; i < shared; i++) other.tree.append(this.tree.nodeHash({ level: 0, index: i }))
    return other
  }

  /** The signed checkpoint at `size` (default: now). */
  checkpoint(size = this.tree.size, signer: NoteSigner = this.signer): string {
    return signCheckpoint({ origin: this.origin, size, rootHash: this.tree.root(size), extensions: [] }, signer)
  }

  proof(oldSize: number, size = this.tree.size): Uint8Array[] {
    return oldSize === 0 ? [] : this.tree.consistencyProof(oldSize, size)
  }

  /** An add-checkpoint body from `oldSize` to `size` (default: now). */
  body(oldSize: number, size = this.tree.size): string {
    return formatAddCheckpoint(oldSize, this.proof(oldSize, size), this.checkpoint(size))
  }
}

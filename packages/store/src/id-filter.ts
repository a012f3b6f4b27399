/** Bit positions per id. With 16 MiB and 10M ids, about 0.2% of new ids still need a lookup. */
const PROBES = 7

/**
 * A Bloom filter of leaf hashes, fixed in size whatever the log holds: "no" is certain, "maybe"
 * needs a lookup. Leaf hashes are SHA-256 outputs, so their first 28 bytes give the seven
 * positions directly. A filter that is full (a log far larger than it was sized for) answers
 * "maybe" more often, which costs lookups, never a wrong answer.
 */
export class IdFilter {
  readonly #bits: Uint32Array
  readonly #size: number

  /** `bytes`: its memory, at least 1 KiB. */
  constructor(bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 1024) throw new RangeError('an id filter needs at least 1 KiB')
    this.#bits = new Uint32Array(Math.floor(bytes / 4))
    this.#size = this.#bits.length * 32
  }

  add(leafHash: Uint8Array): void {
    const view = words(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = view.getUint32(i * 4) % this.#size
      this.#bits[bit >>> 5]! |= 1 << (bit & 31)
    }
  }

  mightContain(leafHash: Uint8Array): boolean {
    const view = words(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = view.getUint32(i * 4) % this.#size
      if ((this.#bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

function words(leafHash: Uint8Array): DataView {
  if (leafHash.length !== 32) throw new RangeError('a leaf hash is 32 bytes')
  return new DataView(leafHash.buffer, leafHash.byteOffset, 32)
}

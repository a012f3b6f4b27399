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
  /** The bit count minus one: the count is a power of two, so a position is a mask away. */
  readonly #mask: number

  /** `bytes`: its memory, 1 KiB to 256 MiB, rounded down to a power of two. */
  constructor(bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 1024 || bytes > 2 ** 28) {
      throw new RangeError('an id filter takes 1 KiB to 256 MiB')
    }
    const bits = 2 ** Math.floor(Math.log2(bytes * 8))
    this.#bits = new Uint32Array(bits / 32)
    this.#mask = bits - 1
  }

  add(leafHash: Uint8Array): void {
    checkHash(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = probe(leafHash, i) & this.#mask
      this.#bits[bit >>> 5]! |= 1 << (bit & 31)
    }
  }

  mightContain(leafHash: Uint8Array): boolean {
    checkHash(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = probe(leafHash, i) & this.#mask
      if ((this.#bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

/** Bytes 4i..4i+3 of the hash as a big-endian number (at most 31 bits survive the mask). */
function probe(hash: Uint8Array, i: number): number {
  const at = i * 4
  return (hash[at]! << 24) | (hash[at + 1]! << 16) | (hash[at + 2]! << 8) | hash[at + 3]!
}

function checkHash(leafHash: Uint8Array): void {
  if (leafHash.length !== 32) throw new RangeError('a leaf hash is 32 bytes')
}

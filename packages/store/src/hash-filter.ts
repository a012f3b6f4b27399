/** Bit positions per hash: the fewest that keep false positives near their minimum at the design load. */
const PROBES = 7
/** A block is 512 bits, one 64-byte cache line, as 16 words. */
const BLOCK_WORDS = 16

/**
 * A blocked Bloom filter of SHA-256 hashes (leaf hashes, object digests), fixed in size whatever
 * the ledger holds: "no" is certain, "maybe" needs a lookup. All of a hash's bits fall in one
 * 512-bit block, so an add or a check touches one cache line, not seven: the filters are tens of
 * MiB, and seven scattered reads missed the cache on every append. The hashes are uniform, so their bytes give the
 * positions directly: the first four pick the block, the next fourteen the seven bits in it. A
 * filter that is full (far more hashes than it was sized for) answers "maybe" more often, which
 * costs lookups, never a wrong answer.
 */
export class HashFilter {
  readonly #bits: Uint32Array
  /** The block count minus one: the count is a power of two, so a block is a mask away. */
  readonly #blockMask: number

  /** `bytes`: its memory, 1 KiB to 256 MiB, rounded down to a power of two. */
  constructor(bytes: number) {
    const words = filterBytes(bytes) / 4
    this.#bits = new Uint32Array(words)
    this.#blockMask = words / BLOCK_WORDS - 1
  }

  get bytes(): number {
    return this.#bits.byteLength
  }

  add(leafHash: Uint8Array): void {
    checkHash(leafHash)
    const block = this.#block(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = bitInBlock(leafHash, i)
      this.#bits[block + (bit >>> 5)]! |= 1 << (bit & 31)
    }
  }

  mightContain(leafHash: Uint8Array): boolean {
    checkHash(leafHash)
    const block = this.#block(leafHash)
    for (let i = 0; i < PROBES; i++) {
      const bit = bitInBlock(leafHash, i)
      if ((this.#bits[block + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }

  /** The index of the first word of the hash's block. */
  #block(hash: Uint8Array): number {
    return (((hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!) & this.#blockMask) * BLOCK_WORDS
  }
}

/**
 * Bits of a stage per hash it is sized for: enough that the stages below the largest add next
 * to no lookups (at 16, every HTTP batch of 1,000 events looked a few ids up in LevelDB).
 */
const STAGE_BITS_PER_HASH = 32
/** Each stage is this many times the size of the one before. */
const STAGE_GROWTH = 4
const FIRST_STAGE_BYTES = 64 * 1024

/**
 * A hash filter whose memory follows what it holds: one `HashFilter` stage of 64 KiB at first,
 * and when the newest stage holds as many hashes as it is sized for, a new stage four times as
 * large, up to `maxBytes`; the largest stage takes every hash after that. Adds go to the newest
 * stage and a check asks each stage, so "no" stays certain. Less than twice `maxBytes` in all;
 * a filter of `maxBytes` from the start had every page in use after some tens of thousands of
 * adds, however few hashes it held, and a ledger holds one for each of its logs.
 */
export class GrowingHashFilter {
  readonly #stages: HashFilter[] = []
  readonly #maxBytes: number
  #newest: HashFilter
  /** Hashes the newest stage takes before the next one starts; Infinity once it is the largest. */
  #room: number

  /** `maxBytes`: the largest stage, 1 KiB to 256 MiB, rounded down to a power of two. */
  constructor(maxBytes: number, firstBytes = FIRST_STAGE_BYTES) {
    this.#maxBytes = filterBytes(maxBytes)
    const first = Math.min(filterBytes(firstBytes), this.#maxBytes)
    this.#newest = new HashFilter(first)
    this.#stages.push(this.#newest)
    this.#room = this.#roomOf(first)
  }

  /** Memory of all stages. */
  get bytes(): number {
    return this.#stages.reduce((sum, stage) => sum + stage.bytes, 0)
  }

  add(hash: Uint8Array): void {
    if (this.#room === 0) this.#grow()
    this.#newest.add(hash)
    this.#room--
  }

  mightContain(hash: Uint8Array): boolean {
    for (const stage of this.#stages) if (stage.mightContain(hash)) return true
    return false
  }

  #grow(): void {
    const bytes = Math.min(this.#newest.bytes * STAGE_GROWTH, this.#maxBytes)
    this.#newest = new HashFilter(bytes)
    this.#stages.push(this.#newest)
    this.#room = this.#roomOf(bytes)
  }

  #roomOf(bytes: number): number {
    return bytes < this.#maxBytes ? bytes * 8 / STAGE_BITS_PER_HASH : Infinity
  }
}

/**
 * A filter of the hashes stored under some keys plus every hash added since it was made, filled
 * by one background pass over those keys. Until the pass ends it knows nothing (`unseen` is
 * always false), so a caller looks everything up, as without it.
 */
export class StoredHashFilter {
  readonly #filter: GrowingHashFilter
  #filled = false
  #filling: Promise<void> | undefined
  #closing = false

  constructor(bytes: number) {
    this.#filter = new GrowingHashFilter(bytes)
  }

  /** A filter of up to `bytes` a stage (the option named `option` gave them), or none for 0. */
  static sized(bytes: number, option: string): StoredHashFilter | undefined {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`${option} must be a non-negative integer`)
    return bytes === 0 ? undefined : new StoredHashFilter(bytes)
  }

  /**
   * Adds the hash of every row `rows` yields (once; later calls return the same pass, or once
   * it failed, start another). Rows written after the pass began must have been `add`ed before
   * their write started.
   */
  fill(rows: AsyncIterable<readonly [Uint8Array, Uint8Array]>, hashOf: (key: Uint8Array) => Uint8Array): Promise<void> {
    if (this.#filled) return Promise.resolve()
    this.#filling ??= (async () => {
      try {
        for await (const [key] of rows) {
          if (this.#closing) return
          this.#filter.add(hashOf(key))
        }
        this.#filled = true
      } catch {
        // Left unfilled (every lookup goes to storage, as without a filter) until a pass is
        // asked for again: a database reopened to recover ends the iterators of the old handle.
        this.#filling = undefined
      }
    })()
    return this.#filling
  }

  /** Stops the pass and waits for it to end (before the database closes). */
  async close(): Promise<void> {
    this.#closing = true
    await this.#filling
  }

  add(hash: Uint8Array): void {
    this.#filter.add(hash)
  }

  /** True when the hash is certainly neither stored nor added; false when it may be. */
  unseen(hash: Uint8Array): boolean {
    return this.#filled && !this.#filter.mightContain(hash)
  }
}

/** Bytes 4 + 2i and 5 + 2i of the hash, as a bit of a 512-bit block. */
function bitInBlock(hash: Uint8Array, i: number): number {
  const at = 4 + 2 * i
  return ((hash[at]! << 8) | hash[at + 1]!) & (BLOCK_WORDS * 32 - 1)
}

/** A filter's size: `bytes` rounded down to a power of two. */
function filterBytes(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 1024 || bytes > 2 ** 28) {
    throw new RangeError('a hash filter takes 1 KiB to 256 MiB')
  }
  return 2 ** Math.floor(Math.log2(bytes))
}

function checkHash(leafHash: Uint8Array): void {
  if (leafHash.length !== 32) throw new RangeError('a leaf hash is 32 bytes')
}

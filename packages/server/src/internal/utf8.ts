const encoder = new TextEncoder()
const SLAB_BYTES = 64 * 1024

let slab = new Uint8Array(SLAB_BYTES)
let used = 0

/**
 * The UTF-8 bytes of `text`, as a view into a shared slab rather than an array of their own.
 * Each array of its own is an off-heap allocation that the garbage collector must sweep, which
 * costs more than encoding the record. A
 * slab stays in memory while any of its views does: envelopes and access records live until
 * their entry bundle is full, so a few slabs at a time.
 */
export function encodeUtf8(text: string): Uint8Array {
  // UTF-8 takes at most 3 bytes for each UTF-16 code unit.
  const room = 3 * text.length
  if (SLAB_BYTES - used < room) {
    slab = new Uint8Array(Math.max(SLAB_BYTES, room))
    used = 0
  }
  const { written } = encoder.encodeInto(text, slab.subarray(used))
  const bytes = slab.subarray(used, used + written)
  used += written
  return bytes
}

// Tree arithmetic on JavaScript numbers. Sizes and indexes go up to 2^53 - 1, so the 32-bit
// bitwise operators are never applied to them: shifts are divisions by powers of two.

const TWO_32 = 2 ** 32

/** True for 0, 1, 2, ... up to Number.MAX_SAFE_INTEGER. */
export function isSafeCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

/** floor(x / 2^k) for a safe non-negative x. */
export function shiftRight(x: number, k: number): number {
  return Math.floor(x / 2 ** k)
}

/** The number of bits needed to write x (0 for 0). */
export function bitLength(x: number): number {
  if (x < TWO_32) return 32 - Math.clz32(x)
  return 32 + bitLength(Math.floor(x / TWO_32))
}

/** The number of trailing zero bits of x > 0. */
export function trailingZeros(x: number): number {
  const low = x % TWO_32
  if (low !== 0) return 31 - Math.clz32(low & -low)
  return 32 + trailingZeros(Math.floor(x / TWO_32))
}

/** The number of levels above which the leaves a and b share an ancestor: bitLength(a ^ b). */
export function divergence(a: number, b: number): number {
  let levels = 0
  while (a !== b) {
    a = Math.floor(a / 2)
    b = Math.floor(b / 2)
    levels++
  }
  return levels
}

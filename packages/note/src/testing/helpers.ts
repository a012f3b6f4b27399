import { isTlogError, type HashProvider, type TlogError, type TlogErrorCode } from '@annal/tlog'
import { isNoteError, type NoteError, type NoteErrorCode } from '../errors.js'
import { expect } from 'vitest'
import type { SignatureProvider } from '../ed25519.js'

/** What every suite is parameterized by, so another package can rerun it with its providers. */
export interface SuiteProviders {
  readonly hash: HashProvider
  readonly signature: SignatureProvider
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

export function hex(text: string): Uint8Array {
  if (text.length % 2 !== 0) throw new Error('odd hex')
  return Uint8Array.from({ length: text.length / 2 }, (_, i) => Number.parseInt(text.slice(2 * i, 2 * i + 2), 16))
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
}

export function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
}

/** Whether `error` is what bad input makes this package throw: a NoteError, or a TlogError for a size. */
export function isNoteFailure(error: unknown): error is NoteError | TlogError {
  return isNoteError(error) || isTlogError(error)
}

/** Asserts that `run` throws a NoteError (or, for a size, a TlogError) with `code`. */
export function expectCode(run: () => unknown, code: NoteErrorCode | TlogErrorCode): void {
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  if (thrown === undefined) expect.fail(`expected ${code}, nothing was thrown`)
  expect(isNoteFailure(thrown) ? thrown.code : thrown).toBe(code)
}

/** Asserts that `run` throws something other than a NoteError or TlogError (RangeError, TypeError). */
export function expectMisuse(run: () => unknown, kind: typeof RangeError | typeof TypeError): void {
  expect(run).toThrow(kind)
  try {
    run()
  } catch (error) {
    expect(isNoteFailure(error)).toBe(false)
  }
}

/** A deterministic 32-byte seed for tests: byte i is (i * 7 + tag) mod 256. */
export function testSeed(tag: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + tag) % 256)
}

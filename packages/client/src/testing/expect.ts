import { expect } from 'vitest'
import { isClientError, type ClientErrorCode } from '../errors.js'

/** Asserts that `run` throws a ClientError with `code` (and `line`, when given); returns it. */
export function expectClientError(run: () => unknown, code: ClientErrorCode, line?: number): Error {
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  if (thrown === undefined) expect.fail(`expected ClientError ${code}, nothing was thrown`)
  if (!isClientError(thrown)) throw thrown
  expect(thrown.code, thrown.message).toBe(code)
  if (line !== undefined) expect(thrown.line, thrown.message).toBe(line)
  return thrown
}

/** As expectClientError, for a promise. */
export async function expectRejection(promise: Promise<unknown>, code: ClientErrorCode): Promise<Error> {
  const thrown = await promise.then(() => undefined, (error: unknown) => error)
  if (thrown === undefined) expect.fail(`expected ClientError ${code}, the promise resolved`)
  if (!isClientError(thrown)) throw thrown
  expect(thrown.code, thrown.message).toBe(code)
  return thrown
}

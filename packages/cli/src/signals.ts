/** Resolves on the first SIGINT or SIGTERM: how long-running commands learn to stop. */
export function signalled(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}

/** A mistake in the command line: reported in one sentence with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

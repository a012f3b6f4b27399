/** Resolves on the first SIGINT or SIGTERM: how long-running commands learn to stop. */
export function signalled(): Promise<unknown> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}


/** A mistake in the command line: reported in one sentence with exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/**
 * A check that did not pass or an operation that failed for a reason the user can act on:
 * one sentence, exit code 1. Errors of other kinds also exit 1, with their first line.
 */
export class Failure extends Error {
  override readonly name = 'Failure'
}

/** The exit code for an error: 2 for a wrong command line, 1 for anything else. */
export function exitCodeOf(error: unknown): 1 | 2 {
  return error instanceof UsageError || isArgumentError(error) ? 2 : 1
}

/** node:util parseArgs's errors, from the commands that parse their own options. */
function isArgumentError(error: unknown): boolean {
  return (error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS') === true
}

/** The first line of an error's message as one sentence, with its code when it has one. */
export function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const first = message.split('\n')[0]!.replace(/[.\s]+$/, '')
  const code = (error as { code?: unknown }).code
  const tagged = typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) && !first.includes(code) && !isArgumentError(error) ? `${first} (${code})` : first
  // A question ("did you mean data?") keeps its mark.
  return /[?!]$/.test(tagged) ? tagged : `${tagged}.`
}

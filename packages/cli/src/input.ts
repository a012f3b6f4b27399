import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Context } from './context.js'
import { UsageError } from './failure.js'

/**
 * The bytes of the file at `path` (from the working directory), or of standard input for `-`.
 * @throws UsageError naming `what` when the file cannot be read.
 */
export async function readInput(ctx: Context, path: string, what: string): Promise<Uint8Array> {
  if (path === '-') return ctx.io.stdin()
  try {
    return new Uint8Array(await readFile(resolve(ctx.io.cwd, path)))
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'an error'
    throw new UsageError(`cannot read ${what} ${path} (${code}); check the path`, { cause: error })
  }
}

/**
 * @module
 * The `annal` command, shaped like Git: `annal init` makes a ledger in `.annal`, and commands
 * find it from any directory below; they act on the local database or, with `--url`, on a
 * server. `annal serve` runs the HTTP API, `annal witness serve` a C2SP witness. `main(args,
 * io)` runs it in-process and resolves with the exit code: 0 done or verified, 1 failed, 2 bad
 * usage.
 * @example
 * import { main, memoryIo } from '@annal/cli'
 *
 * const io = memoryIo()
 * const code = await main(['--help'], io)
 * if (code !== 0 || !io.stdout.includes('serve')) throw new Error('no usage')
 */
export { main } from './main.js'
export { memoryIo, processIo } from './io.js'
export type { Io } from './io.js'
export { runDemo } from './demo.js'

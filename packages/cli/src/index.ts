/**
 * @module
 * The `annal` command: `annal serve` runs the HTTP API on a ledger directory, `annal witness
 * serve` a C2SP witness, `annal demo` shows the Merkle log without a server. `main(args, out)`
 * runs it in-process and resolves with the exit code.
 * @example
 * import { main } from '@annal/cli'
 *
 * const lines: string[] = []
 * const code = await main(['--help'], (line) => lines.push(line))
 * if (code !== 0 || !lines.join('\n').includes('serve')) throw new Error('no usage')
 */
export { main } from './main.js'
export { runDemo } from './demo.js'

import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { runDemo } from './demo.js'
import { SERVE_USAGE, serveCommand } from './serve.js'
import { UsageError } from './signals.js'
import { WITNESS_USAGE, witnessServe } from './witness.js'

const USAGE = `usage: annal <command>

commands:
  serve           run the HTTP API (annal serve --help; annal serve --dev for a local trial)
  demo            append audit events to an in-memory log, sign a checkpoint, prove and verify
  witness serve   run a C2SP tlog-witness (annal witness serve --help)
`

/** Runs the command named by `args` and returns the process exit code. */
export async function main(args: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const [command, ...rest] = args
  try {
    return await run(command, rest, out)
  } catch (error) {
    // One sentence and a non-zero exit: 2 for a wrong command line, 1 for anything else.
    console.error(`annal: ${sentence(error)}`)
    return error instanceof UsageError || isArgumentError(error) ? 2 : 1
  }
}

async function run(command: string | undefined, rest: readonly string[], out: (line: string) => void): Promise<number> {
  switch (command) {
    case 'serve':
      if (rest.includes('--help')) {
        out(SERVE_USAGE)
        return 0
      }
      return serveCommand(rest, out)
    case 'demo':
      return runDemo(rest, out)
    case 'witness':
      if (rest[0] === 'serve' && !rest.includes('--help')) return witnessServe(rest.slice(1), out)
      out(WITNESS_USAGE)
      return rest[0] === 'serve' ? 0 : 2
    case undefined:
    case 'help':
    case '--help':
      out(USAGE)
      return command === undefined ? 2 : 0
    default:
      throw new UsageError(`unknown command '${command}'; run 'annal help' for the list`)
  }
}

function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  const first = message.split('\n')[0]!.replace(/[.\s]+$/, '')
  return `${first}.`
}

function isArgumentError(error: unknown): boolean {
  return (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
}

// Run only when this file is executed (`npm start` does), not when imported: by tests, or by
// bin/annal.js, the npm bin, which calls main itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2))
}

import { readFileSync, realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { CommanderError } from 'commander'
import { registerCommands } from './commands/index.js'
import { exitCodeOf, sentence } from './failure.js'
import { type Io, processIo } from './io.js'
import { Program } from './program.js'

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/**
 * Runs `annal` with `args` and resolves with the exit code: 0 done or verified, 1 failed
 * (verification or operation), 2 bad usage. Errors are one sentence on stderr; with --debug,
 * the stack trace follows.
 */
export async function main(args: readonly string[], io: Io = processIo()): Promise<number> {
  const program = new Program(io, VERSION)
  registerCommands(program)
  try {
    await program.root.parseAsync([...args], { from: 'user' })
    return program.exitCode
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end parsing with an "error" whose exit code is 0.
      if (error.exitCode === 0) return 0
      // A command group run without a command: its help is printed, and that is a usage error.
      if (error.code === 'commander.help') return 2
      io.err(`annal: ${error.message.replace(/^error: /, '').replace(/[.\s]+$/, '')}; see 'annal help'.`)
      return 2
    }
    io.err(`annal: ${sentence(error)}`)
    if (args.includes('--debug') && error instanceof Error && error.stack !== undefined) io.err(error.stack)
    return exitCodeOf(error)
  }
}

// Run only when this file is executed (`npm start` does), not when imported: by tests, or by
// bin/annal.js, the npm bin, which calls main itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2))
}

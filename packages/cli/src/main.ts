#!/usr/bin/env node
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { runDemo } from './demo.js'

const USAGE = `usage: annal <command>

commands:
  demo    append audit events to an in-memory log, sign a checkpoint, prove and verify
`

/** Runs the command named by `args` and returns the process exit code. */
export async function main(args: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  const [command, ...rest] = args
  switch (command) {
    case 'demo':
      return runDemo(rest, out)
    case undefined:
    case 'help':
    case '--help':
      out(USAGE)
      return command === undefined ? 2 : 0
    default:
      console.error(`annal: unknown command '${command}'. Run 'annal help' for the list.`)
      return 2
  }
}

// Run only when executed (directly or through the npm bin link), not when imported by tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2))
}

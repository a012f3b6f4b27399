import { Command } from 'commander'
import { Context, type GlobalOptions } from './context.js'
import type { Io } from './io.js'

/**
 * A command's work, given its options (its own and the shared ones) and its positional
 * arguments; resolves with its exit code (0 when it returns nothing).
 */
export type Action<O, A extends unknown[]> = (ctx: Context, options: O, ...args: A) => Promise<number | void> | number | void

/** The options most commands share; `add` picks which a command takes. */
const SHARED = {
  json: ['--json', 'print one JSON value for scripts instead of text'],
  data: ['--data <dir>', 'the ledger directory (default: .annal here or in a parent; ANNAL_DIR)'],
  log: ['--log <name>', 'the log to act on (default: main)'],
  url: ['--url <url>', 'go through this server instead of the local ledger (ANNAL_URL; token in ANNAL_TOKEN)'],
} as const

export type SharedOption = keyof typeof SHARED

/**
 * The program's command tree, with what each action returns kept in `exitCode`. Commands add
 * themselves with `command(...)`, which gives them the shared options they ask for, an example
 * in their help, and a Context made from their options.
 */
export class Program {
  readonly root: Command
  exitCode = 0
  readonly io: Io

  constructor(io: Io, version: string) {
    this.io = io
    this.root = new Command('annal')
      .description('A transparency-log ledger: append audit events, prove them, verify without trusting the server.')
      .version(version, '--version', 'print the version')
      .option('--debug', 'print a stack trace with errors')
      // Options after a subcommand's name belong to the subcommand: `witness serve --log` is not `log --log`.
      .enablePositionalOptions()
      .showSuggestionAfterError()
      .exitOverride()
      .configureOutput({
        writeOut: (text) => io.write(text),
        writeErr: (text) => io.err(text.replace(/\n$/, '')),
        // main prints the one-sentence error itself.
        outputError: () => undefined,
      })
  }

  /**
   * Adds `parent name` with its description, the shared options named, its example (shown
   * under "Example:" in its help) and its action.
   */
  command<O = Record<string, unknown>, A extends unknown[] = string[]>(parent: Command, spec: {
    readonly name: string
    readonly description: string
    readonly example: string
    readonly options?: readonly SharedOption[]
    readonly setup?: (command: Command) => void
    readonly action: Action<O & GlobalOptions, A>
  }): Command {
    const command = parent.command(spec.name).description(spec.description)
    for (const option of spec.options ?? []) command.option(SHARED[option][0], SHARED[option][1])
    spec.setup?.(command)
    command.addHelpText('after', `\nExample:\n${spec.example.replace(/^/gm, '  $ ')}\n`)
    command.action(async (...received: unknown[]) => {
      const self = received.at(-1) as Command
      const options = self.optsWithGlobals<O & GlobalOptions>()
      const code = await spec.action(new Context(this.io, options), options, ...(received.slice(0, -2) as A))
      this.exitCode = typeof code === 'number' ? code : 0
    })
    return command
  }
}

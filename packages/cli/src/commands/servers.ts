import { Context } from '../context.js'
import { runDemo } from '../demo.js'
import { SERVE_USAGE, serveCommand } from '../serve.js'
import { WITNESS_USAGE, witnessServe } from '../witness.js'
import type { Program } from '../program.js'
import { signalled } from '../signals.js'

/**
 * `serve`, `witness serve` and `demo`. The two servers keep their own option parsing and
 * usage text (flags, environment and config file merged in one place), so their arguments pass
 * through untouched.
 */
export function registerServers(program: Program): void {
  const passThrough = (parent: typeof program.root, name: string, description: string, usage: string,
      run: (args: string[]) => Promise<number>) => parent.command(name).description(description)
    .helpOption(false).allowUnknownOption().allowExcessArguments().passThroughOptions()
    .argument('[options...]')
    .action(async (args: string[]) => {
      if (args.includes('--help') || args.includes('-h')) program.io.out(usage)
      else program.exitCode = await run(args)
    })

  passThrough(program.root, 'serve', 'run the HTTP API on a ledger (annal serve --dev for a local trial)', SERVE_USAGE,
    (args) => serveCommand(args, (line) => program.io.out(line), signalled(),
      { err: (line) => program.io.err(line), env: program.io.env, findLedger: () => new Context(program.io, {}).findLedger() }))
  const witness = program.root.command('witness').description('run a C2SP tlog-witness')
  passThrough(witness, 'serve', 'run a C2SP tlog-witness that cosigns consistent checkpoints', WITNESS_USAGE,
    (args) => witnessServe(args, (line) => program.io.out(line), signalled(), (line) => program.io.err(line)))
  program.command(program.root, {
    name: 'demo',
    description: 'append audit events to an in-memory log, sign a checkpoint, prove and verify',
    example: 'annal demo',
    action: (ctx) => runDemo([], ctx.io.out),
  })
}

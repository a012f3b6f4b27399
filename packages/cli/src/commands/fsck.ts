import type { FsckReport } from '@annal/store'
import type { Context } from '../context.js'
import { Failure, UsageError } from '../failure.js'
import type { Program } from '../program.js'
import { progressBar } from '../progress.js'

/** `fsck`: the store's full integrity check of the local ledger, as `git fsck` checks a repository. */
export function registerFsck(program: Program): void {
  program.command<Record<string, never>, [string | undefined]>(program.root, {
    name: 'fsck',
    description: "check the local ledger's integrity: entries, tiles, checkpoints and the id index (exit 1 on a problem)",
    example: 'annal fsck\nannal fsck main --json',
    options: ['json', 'data'],
    setup: (command) => command.argument('[log]', 'the log to check (default: every log)')
      .addHelpText('after', '\nRun it on a quiet ledger: appends made while it runs may show up as problems.'),
    action: fsck,
  })
}

async function fsck(ctx: Context, _options: unknown, only: string | undefined): Promise<void> {
  const reports = await ctx.withLedger(async (ledger) => {
    const names = ledger.logs().map((info) => info.name)
    if (only !== undefined && !names.includes(only)) {
      throw new UsageError(`the ledger has no log ${JSON.stringify(only)}; its logs are ${names.join(', ')}`)
    }
    const checked: FsckReport[] = []
    for (const name of only === undefined ? names : [only]) {
      const progress = progressBar(ctx.io, `fsck ${name}`, 'entries')
      try {
        checked.push(await ledger.fsck(name, { onProgress: ({ checked, total }) => progress.update(checked, total) }))
      } finally {
        progress.stop()
      }
    }
    return checked
  })
  const problems = reports.reduce((sum, report) => sum + report.problems.length, 0)
  ctx.print({ ok: problems === 0, logs: reports }, () => reports.forEach((report) => printReport(ctx, report)))
  if (problems > 0) {
    const logs = reports.filter((report) => !report.ok).map((report) => report.log)
    throw new Failure(`fsck found ${count(problems, 'problem')} in ${logs.join(', ')}; see the list above`)
  }
}

function printReport(ctx: Context, { log, size, ok, checked, problems }: FsckReport): void {
  const counts = `entries ${checked.entries}, tiles ${checked.tiles}, checkpoints ${checked.checkpoints}, index rows ${checked.indexRows}`
  ctx.io.out(`${log}: ${ok ? 'ok' : count(problems.length, 'problem')} at size ${size} (${counts})`)
  for (const { location, problem } of problems) ctx.io.out(`  ${location}: ${problem}`)
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

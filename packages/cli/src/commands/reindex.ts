import { indexLedger, reindexLog } from '@annal/server'
import type { Context } from '../context.js'
import { UsageError } from '../failure.js'
import type { Program } from '../program.js'
import { progressBar } from '../progress.js'

/** `reindex`: rebuilds the search indexes of the local ledger's logs from their entries. */
export function registerReindex(program: Program): void {
  program.command<Record<string, never>, [string | undefined]>(program.root, {
    name: 'reindex',
    description: "rebuild the search indexes of the local ledger's logs from their entries",
    example: 'annal reindex\nannal reindex access --json',
    options: ['json', 'data'],
    setup: (command) => command.argument('[log]', 'the log to reindex (default: every log)'),
    action: reindex,
  })
}

async function reindex(ctx: Context, _options: unknown, only: string | undefined): Promise<void> {
  const done = await ctx.withLedger(async (ledger) => {
    await indexLedger(ledger)
    const names = ledger.logs().map((info) => info.name)
    if (only !== undefined && !names.includes(only)) {
      throw new UsageError(`the ledger has no log ${JSON.stringify(only)}; its logs are ${names.join(', ')}`)
    }
    const logs: { log: string; entries: number }[] = []
    for (const name of only === undefined ? names : [only]) {
      const progress = progressBar(ctx.io, `reindex ${name}`, 'entries')
      try {
        logs.push({ log: name, entries: await reindexLog(ledger, name, { onProgress: (count, size) => progress.update(count, size) }) })
      } finally {
        progress.stop()
      }
    }
    return logs
  })
  ctx.print({ logs: done }, () => done.forEach(({ log, entries }) => ctx.io.out(`${log}: reindexed ${entries} entries`)))
}

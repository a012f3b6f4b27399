import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { isStorageError } from '@annal/storage'
import { PostgresDriver } from '@annal/storage-postgres'
import { type Migration, isStoreError, migrateLedger } from '@annal/store'
import { TlogError } from '@annal/tlog'
import type { Context } from '../context.js'
import { Failure, UsageError } from '../failure.js'
import type { Program } from '../program.js'
import { redactedDatabaseUrl } from '../serve-settings.js'

/** `migrate --to URL`: copies the local LevelDB ledger into PostgreSQL and checks the copy. */
export function registerMigrate(program: Program): void {
  program.command<{ to?: string }, []>(program.root, {
    name: 'migrate',
    description: 'copy the local ledger into an empty PostgreSQL database and check every log\'s root at every checkpoint',
    example: 'annal migrate --to postgres://annal:PASSWORD@db.example.com/annal',
    options: ['json', 'data'],
    setup: (command) => command.option('--to <url>', 'the PostgreSQL database to copy into (postgres://user:password@host:port/database); empty')
      .addHelpText('after', "\nStop 'annal serve' on the ledger first. The keys stay in the ledger directory: serve the copy with\n"
        + 'annal serve --data DIR --database URL.'),
    action: migrate,
  })
}

async function migrate(ctx: Context, options: { to?: string }): Promise<void> {
  const url = options.to
  if (url === undefined || !/^postgres(?:ql)?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new UsageError('migrate needs --to postgres://user:password@host:port/database')
  }
  const shown = redactedDatabaseUrl(url)
  const data = ctx.ledgerDir()
  if (!existsSync(join(data, 'db'))) throw new UsageError(`${data} holds no LevelDB ledger to migrate; pass --data`)
  let target: PostgresDriver
  try {
    target = await PostgresDriver.open(url)
  } catch (error) {
    throw new Failure(`cannot open the database ${shown}: ${(error as Error).message}`)
  }
  let done: Migration
  try {
    done = await migrateLedger(data, target)
  } catch (error) {
    if (isStorageError(error, 'DATABASE_LOCKED')) throw new Failure(`${data} is in use by another process (a running 'annal serve'?); stop it first`)
    if (isStoreError(error, 'LOG_EXISTS')) throw new Failure(`the database ${shown} holds a ledger already; migrate into an empty database`)
    if (isStoreError(error, 'CORRUPTION') || error instanceof TlogError) {
      throw new Failure(`the copy in ${shown} differs from ${data} (${(error as Error).message}); do not serve it`)
    }
    throw error
  }
  ctx.print({ ...done, database: shown }, () => {
    ctx.io.out(`copied ${done.rows} rows from ${data} to ${shown}`)
    for (const log of done.logs) ctx.io.out(`${log.name}: ${log.size} entries, the root at each of ${log.checkpoints} checkpoints unchanged`)
    ctx.io.out(`serve it with: annal serve --data ${data} --database ${shown}`)
  })
}

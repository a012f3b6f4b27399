import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { makeDirectory } from '@annal/storage'
import { Ledger } from '@annal/store'
import { type Context, DEFAULT_LOG, LEDGER_DIR, checkServerUrl, localOriginPrefix } from '../context.js'
import { Failure } from '../failure.js'
import type { Program } from '../program.js'
import { request } from '../remote.js'

/** A log as `annal logs` lists it: the API's own shape (GET /v1/logs), local or remote. */
interface LogListing {
  readonly name: string
  readonly origin: string
  readonly verifier_key: string
  readonly size?: number
}

/** `init`, `logs` and `logs create`. */
export function registerLedger(program: Program): void {
  program.command<{ origin?: string; url?: string }, [string | undefined]>(program.root, {
    name: 'init',
    description: `create a ledger (${LEDGER_DIR}, with the log ${DEFAULT_LOG}) in a directory, or point the directory at a server`,
    example: 'annal init\nannal init audit-trail --origin example.com/audit\nannal init --url https://annal.example',
    options: ['json'],
    setup: (command) => command.argument('[dir]', 'where to make it (default: here)')
      .option('--origin <origin>', `the checkpoint origin of the log ${DEFAULT_LOG} (default: annal.local/<dir name>/${DEFAULT_LOG})`)
      .option('--url <url>', `go through this server: write ${LEDGER_DIR}/config instead of a database`),
    action: (ctx, options, dir) => init(ctx, resolve(ctx.io.cwd, dir ?? '.'), options),
  })

  const logs = program.command(program.root, {
    name: 'logs',
    description: 'list the logs with their sizes and verifier keys',
    example: 'annal logs\nannal logs --url http://127.0.0.1:8080 --json',
    options: ['json', 'data', 'url'],
    action: listLogs,
  })
  program.command<{ origin?: string }, [string]>(logs, {
    name: 'create',
    description: 'create a log with a fresh signing key (through a server: needs log:admin)',
    example: 'annal logs create payments\nannal logs create payments --origin example.com/payments',
    options: ['json', 'data', 'url'],
    setup: (command) => command.argument('<name>', 'the log name: 1-63 of a-z, 0-9 and -')
      .option('--origin <origin>', 'its checkpoint origin (default: annal.local/<dir name>/<name>, or the server\'s origin prefix)'),
    action: createLog,
  })
}

/** `annal init`: a fresh ledger, or a config naming a server; never over an existing `.annal`. */
async function init(ctx: Context, root: string, options: { origin?: string; url?: string }): Promise<void> {
  const target = join(root, LEDGER_DIR)
  if (options.url !== undefined) checkServerUrl(options.url)
  await makeDirectory(root).catch((error: Error) => {
    throw new Failure(`cannot make the directory ${root}: ${error.message}`)
  })
  try {
    // Made without `recursive`: the check for an existing ledger and the claim are one step.
    await mkdir(target)
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') throw new Failure(`${target} exists already; annal init does not overwrite a ledger`)
    throw error
  }
  try {
    if (options.url !== undefined) {
      await writeFile(join(target, 'config'), `${JSON.stringify({ url: options.url }, null, 2)}\n`)
      ctx.print({ directory: target, url: options.url }, () => ctx.io.out(`Initialized ${target} to go through ${options.url}`))
      return
    }
    const ledger = await Ledger.open(target, { originPrefix: localOriginPrefix(target) })
    try {
      const info = await ledger.createLog(DEFAULT_LOG, options.origin === undefined ? {} : { origin: options.origin })
      ctx.print({ directory: target, log: info.name, origin: info.origin, verifier_key: info.verifierKey }, () => {
        ctx.io.out(`Initialized an empty Annal ledger in ${target}`)
        ctx.io.out(`log ${info.name}, origin ${info.origin}`)
        ctx.io.out(`verifier key: ${info.verifierKey}`)
      })
    } finally {
      await ledger.close()
    }
  } catch (error) {
    await rm(target, { recursive: true, force: true })
    throw error
  }
}

async function listLogs(ctx: Context): Promise<void> {
  const remote = await ctx.remote()
  const logs: readonly LogListing[] = remote !== undefined
    ? ((await (await request(remote, '/v1/logs')).json()) as { logs: LogListing[] }).logs
    : await ctx.withLedger(async (ledger) => ledger.logs().map((info) => ({
      name: info.name, origin: info.origin, verifier_key: info.verifierKey, size: ledger.log(info.name).size,
    })))
  ctx.print({ logs }, () => {
    const width = Math.max(0, ...logs.map((log) => log.name.length))
    const sizeWidth = Math.max(0, ...logs.map((log) => String(log.size ?? '-').length))
    for (const log of logs) ctx.io.out(`${log.name.padEnd(width)}  ${String(log.size ?? '-').padStart(sizeWidth)}  ${log.verifier_key}`)
  })
}

async function createLog(ctx: Context, options: { origin?: string }, name: string): Promise<void> {
  const remote = await ctx.remote()
  const created: LogListing = remote !== undefined
    ? await (await request(remote, '/v1/logs', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, origin: options.origin }),
    })).json() as LogListing
    : await ctx.withLedger(async (ledger) => {
      const info = await ledger.createLog(name, options.origin === undefined ? {} : { origin: options.origin })
      return { name: info.name, origin: info.origin, verifier_key: info.verifierKey, size: 0 }
    })
  ctx.print(created, () => {
    ctx.io.out(`created log ${created.name}, origin ${created.origin}`)
    ctx.io.out(`verifier key: ${created.verifier_key}`)
  })
}

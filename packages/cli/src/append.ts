import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { resolve } from 'node:path'
import { ACCESS_LOG, DEFAULT_LIMITS, appendBodyEvents, appendLocalEvents } from '@annal/server'
import cliProgress from 'cli-progress'
import type { Context } from './context.js'
import { localLog } from './entry-source.js'
import { abbreviate } from './entry-view.js'
import { Failure } from './failure.js'
import { logPath, request } from './remote.js'

const JSON_TYPE = 'application/json'
const NDJSON_TYPE = 'application/x-ndjson'
/** Entries listed after an append; --json lists every one. */
const LISTED = 10
const NEWLINE = Uint8Array.of(0x0a)

/** An appended entry as the API answers it. */
interface Appended {
  readonly index: number
  readonly id: string
  readonly duplicate: boolean
}

/** The events of one request: at most the lines and bytes the API takes in one. */
interface Batch {
  readonly events: readonly Uint8Array[]
  /** The line of its first event in the file. */
  readonly firstLine: number
}

/**
 * `annal append`: the file is checked whole, as the append route checks a body, before anything
 * is appended, so bad input changes nothing. An NDJSON file is then appended in batches that the
 * API takes in one request each, every batch all or nothing.
 */
export async function appendFile(ctx: Context, options: { ndjson?: boolean }, file: string): Promise<void> {
  const body = file === '-' ? await ctx.io.stdin() : await readInput(resolve(ctx.io.cwd, file))
  const ndjson = options.ndjson === true || /\.(?:ndjson|jsonl)$/i.test(file)
  const type = ndjson ? NDJSON_TYPE : JSON_TYPE
  // The whole file as one body, so that errors name its lines; batches respect the API's limits after.
  const events = appendBodyEvents(body, type, ndjson ? { ...DEFAULT_LIMITS, bodyBytes: Number.MAX_SAFE_INTEGER, ndjsonLines: Number.MAX_SAFE_INTEGER } : DEFAULT_LIMITS)
  const batches = ndjson ? batchesOf(events) : [{ events, firstLine: 1 }]
  const log = await ctx.logName()
  const remote = await ctx.remote()
  const progress = batches.length > 1 && ctx.io.isTTY && !ctx.json
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'appending {bar} {value}/{total} events' }, cliProgress.Presets.shades_classic)
    : undefined
  progress?.start(events.length, 0)
  const appended: Appended[] = []
  let checkpoint = { size: 0, root: '' }
  const done = (result: { entries: readonly Appended[]; checkpoint: { size: number; root: string } }) => {
    appended.push(...result.entries.map(({ index, id, duplicate }) => ({ index, id, duplicate })))
    checkpoint = { size: result.checkpoint.size, root: result.checkpoint.root }
    progress?.update(appended.length)
  }
  try {
    if (remote !== undefined) {
      for (const batch of batches) done(await postBatch(remote, batch, ndjson))
      await report(ctx, log, appended, checkpoint, async () => true)
      return
    }
    await ctx.withLedger(async (ledger) => {
      // The access log is refused as reserved, as the API refuses it, whether or not it exists here.
      if (log !== ACCESS_LOG) localLog(ledger, log)
      const actor = { iss: 'urn:annal:local', sub: userInfo().username, clientId: 'annal-cli' }
      const requestId = randomUUID()
      for (const batch of batches) {
        done(await appendLocalEvents(ledger, { log, type, events: batch.events, actor, time: new Date(), requestId, firstLine: batch.firstLine }))
      }
      await report(ctx, log, appended, checkpoint, async (prefix) => (await ledger.log(log).candidates(prefix)).length <= 1)
    })
  } finally {
    progress?.stop()
  }
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (error) {
    throw new Failure(`cannot read ${path}: ${(error as { code?: string }).code ?? (error as Error).message}`)
  }
}

/**
 * The file's events in batches of at most `ndjsonLines` lines and `bodyBytes` bytes.
 * @throws Failure for a line larger than one request may be.
 */
function batchesOf(events: readonly Uint8Array[]): Batch[] {
  const { ndjsonLines, bodyBytes } = DEFAULT_LIMITS
  const batches: Batch[] = []
  let current: Uint8Array[] = []
  let bytes = 0
  let firstLine = 1
  events.forEach((event, i) => {
    const size = event.length + 1
    if (size > bodyBytes) throw new Failure(`line ${i + 1} is larger than the ${bodyBytes} bytes an append may be`)
    if (current.length === ndjsonLines || bytes + size > bodyBytes) {
      batches.push({ events: current, firstLine })
      current = []
      bytes = 0
      firstLine = i + 1
    }
    current.push(event)
    bytes += size
  })
  batches.push({ events: current, firstLine })
  return batches
}

async function postBatch(remote: NonNullable<Awaited<ReturnType<Context['remote']>>>, batch: Batch, ndjson: boolean) {
  const body = ndjson ? Buffer.concat(batch.events.flatMap((event) => [event, NEWLINE])) : Buffer.from(batch.events[0]!)
  const response = await request(remote, `${logPath(remote)}/entries`, {
    method: 'POST', headers: { 'content-type': ndjson ? NDJSON_TYPE : JSON_TYPE }, body,
  })
  const text = await response.text()
  const results = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Appended & { checkpoint: { size: number; root: string } })
  return { entries: results, checkpoint: results.at(-1)!.checkpoint }
}

async function report(ctx: Context, log: string, appended: readonly Appended[], checkpoint: { size: number; root: string },
    unique: (prefix: string) => Promise<boolean>): Promise<void> {
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ log, entries: appended, checkpoint }))
    return
  }
  const first = appended[0]!.index
  const last = appended.at(-1)!.index
  const range = appended.length === 1 ? `${first}` : `${first}..${last}`
  const noun = appended.length === 1 ? 'entry' : 'entries'
  ctx.io.out(`appended ${appended.length} ${noun} to ${log}, ${range}, checkpoint size ${checkpoint.size}`)
  for (const entry of appended.slice(0, LISTED)) {
    ctx.io.out(`  ${entry.index} ${await abbreviate(entry.id, unique)}${entry.duplicate ? ' (already in the log)' : ''}`)
  }
  if (appended.length > LISTED) ctx.io.out(`  ... and ${appended.length - LISTED} more (--json lists them all)`)
}

import { nodeHasher } from '@annal/crypto-node'
import { entryRef, servedEntryJson } from '@annal/server'
import type { Ledger, Log } from '@annal/store'
import { TILE_WIDTH, bytesToHex, decodeEntryBundle, entryBundlePath } from '@annal/tlog'
import type { Context, Remote } from './context.js'
import { Failure, UsageError } from './failure.js'
import { RemoteError, logPath, request } from './remote.js'

/** An entry as GET /v1/logs/{log}/entries/{ref} serves it; local entries are shown the same way. */
export interface EntryView {
  readonly index: number
  readonly id: string
  readonly envelope?: Record<string, unknown>
  readonly payload?: unknown
  readonly payload_erased?: boolean
  readonly payload_omitted?: string
  readonly leaf_base64?: string
}

/** What `log` and `show` read, from the local ledger or through a server. */
export interface EntrySource {
  readonly log: string
  size(): Promise<number>
  /** Entries `start` up to `end` (exclusive), in order. */
  range(start: number, end: number): Promise<EntryView[]>
  /** The entry an index, id or abbreviated id names (as the API reads a reference). @throws Failure when the prefix is ambiguous. */
  get(ref: string): Promise<EntryView>
  /** The entry's leaf: the exact bytes its id (the RFC 6962 leaf hash) covers. */
  leaf(entry: EntryView): Promise<Uint8Array>
  /** True unless more than one entry's id starts with `prefix`. */
  unique(prefix: string): Promise<boolean>
}

/** Runs `work` with the entries of the command's log: through the server when one is named, else on the local ledger. */
export async function withEntries<T>(ctx: Context, work: (source: EntrySource) => Promise<T>): Promise<T> {
  const remote = await ctx.remote()
  if (remote !== undefined) return work(remoteSource(remote, await ctx.logName()))
  const name = await ctx.logName()
  return ctx.withLedger((ledger) => work(localSource(ledger, localLog(ledger, name))))
}

/** @throws Failure when the ledger has no such log. */
export function localLog(ledger: Ledger, name: string): Log {
  if (!ledger.logs().some((info) => info.name === name)) throw new Failure(`there is no log ${name} in ${ledger.directory}; see 'annal logs'`)
  return ledger.log(name)
}

/**
 * Looks an entry up, turning the refusals that name the reference (local codes and the API's are
 * the same) into one sentence: `candidates` counts an ambiguous prefix's matches.
 */
async function lookUp(log: string, ref: string, get: () => Promise<EntryView>, candidates: (error: unknown) => Promise<number>,
    size: () => Promise<number>): Promise<EntryView> {
  try {
    return await get()
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ID_AMBIGUOUS') {
      const count = await candidates(error)
      throw new Failure(`the id prefix ${ref} matches ${count >= 10 ? 'at least 10' : count} entries; give more of its digits`)
    }
    // The API answers an index past the end as an unknown id (404); the store as out of range.
    if (code === 'SIZE_OUT_OF_RANGE' || (code === 'ENTRY_NOT_FOUND' && /^(?:0|[1-9][0-9]{0,14})$/.test(ref))) {
      throw new Failure(`log ${log} has no entry ${ref}: it holds ${await size()} entries`)
    }
    if (code === 'ENTRY_NOT_FOUND') throw new Failure(`no entry of log ${log} has an id starting with ${ref}`)
    if (code === 'ID_MALFORMED') throw new UsageError(`${ref} is neither an index nor an id (4 to 64 lowercase hex digits)`)
    throw error
  }
}

function localSource(ledger: Ledger, log: Log): EntrySource {
  const view = async (entry: Awaited<ReturnType<Log['entry']>>) => JSON.parse(await servedEntryJson(ledger, entry)) as EntryView
  return {
    log: log.info.name,
    size: async () => log.size,
    range: async (start, end) => Promise.all((await log.entries(start, end - start)).map(view)),
    get: (ref) => lookUp(log.info.name, ref, async () => view(await log.entry(entryRef(ref))),
      async () => (await log.candidates(ref)).length, async () => log.size),
    leaf: async (entry) => (await log.entry(entry.index)).data,
    unique: async (prefix) => (await log.candidates(prefix)).length <= 1,
  }
}

function remoteSource(remote: Remote, log: string): EntrySource {
  const path = logPath(remote)
  const size = async () => ((await (await request(remote, path)).json()) as { size: number }).size
  return {
    log,
    size,
    range: async (start, end) => {
      const entries: EntryView[] = []
      // A page may hold fewer entries than asked for (the server bounds it in bytes).
      while (start + entries.length < end) {
        const at = start + entries.length
        const page = await (await request(remote, `${path}/entries?start=${at}&limit=${end - at}`)).json() as { entries: EntryView[] }
        if (page.entries.length === 0) throw new Failure(`the server sent no entries from ${at}, below the end ${end} it announced`)
        entries.push(...page.entries.slice(0, end - at))
      }
      return entries
    },
    get: (ref) => lookUp(log, ref, async () => await (await request(remote, `${path}/entries/${encodeURIComponent(ref)}`)).json() as EntryView,
      async (error) => {
        const candidates = error instanceof RemoteError ? error.body.candidates : undefined
        return Array.isArray(candidates) ? candidates.length : 2
      }, size),
    // The leaf as the log holds it, from its entry bundle, checked against the entry's id.
    leaf: async (entry) => {
      const bundle = Math.floor(entry.index / TILE_WIDTH)
      const width = Math.min(TILE_WIDTH, (await size()) - bundle * TILE_WIDTH)
      const bytes = new Uint8Array(await (await request(remote, `${path}/${entryBundlePath(bundle, width)}`)).arrayBuffer())
      const leaf = decodeEntryBundle(bytes)[entry.index % TILE_WIDTH]
      if (leaf === undefined || bytesToHex(nodeHasher.leaf(leaf)) !== entry.id) {
        throw new Failure(`the server's entry bundle does not hold entry ${entry.index} with id ${entry.id}`)
      }
      return leaf
    },
    // Asking the server about every id shown would cost a request each; abbreviations are
    // checked when they are used (an ambiguous one is refused then).
    unique: async () => true,
  }
}

// Searching a log through its indexes.
import type { Log } from '@annal/store'
import { bytesToHex } from '@annal/tlog'
import type { Hono } from 'hono'
import { type AppEnv, type Services, authorize } from './context.js'
import { entryJson, jsonStream, pageOf, parseEntry } from './entry-json.js'
import { type SearchIndex, type SearchQuery, cursorText, parseSearch, searchPage, unindexedBelow } from './search.js'
import { type SearchFields, indexLedger } from './search-fields.js'
import { entryIndex, ledgerPayloads } from './search-terms.js'

/** GET /v1/logs/{log}/search (`log:read`; `audit:read` for the access log). */
export function searchRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger, limits } = services

  app.get('/v1/logs/:log/search', async (c) => {
    const name = c.req.param('log')
    authorize(c, 'log:read', name)
    const log = ledger.log(name)
    const fields = await indexLedger(ledger)
    const query = parseSearch(c.req.queries(), fields.of(name), limits.listEntries)
    const index = searchIndex(services, fields, log, query)
    const page = await searchPage(log, query, index)
    const entries = pageOf(page.entries.map(parseEntry), limits.pageBytes)
    // A page cut short by its size in bytes goes on after its last entry.
    const cut = entries.length < page.entries.length ? entries.at(-1)!.entry.index : undefined
    const next = cut === undefined ? page.next : { end: page.end, position: query.order === 'newest' ? cut : cut + 1 }
    const cursor = next === undefined ? undefined : cursorText(next, query.digest)
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': 'private, no-cache' }
    if (cursor !== undefined) headers.Link = `<${nextUrl(c.req.url, cursor)}>; rel="next"`
    const proofs = query.withProofs ? await proofsOf(services, log, entries.map(({ entry }) => entry.index)) : undefined
    const inline = { bytes: limits.pageBytes, depth: limits.jsonDepth }
    const head = `{"log":${JSON.stringify(name)},"size":${page.end},"order":"${query.order}",` +
      `"unindexed_below":${Math.min(unindexedBelow(query, index), page.end)},` +
      `"next":${cursor === undefined ? 'null' : `"${cursor}"`},` +
      (proofs === undefined ? '' : `"checkpoint":${JSON.stringify(proofs.checkpoint)},`) + '"results":['
    return c.body(jsonStream(head, entries.map((entry, i) => async () => {
      const json = await entryJson(ledger, entry, inline)
      return proofs === undefined ? json : `${json.slice(0, -1)},"inclusion_proof":${JSON.stringify(proofs.hashes[i])}}`
    }), ']}'), 200, headers)
  })
}

/** Where the log's index covers the query's filters, and how to check them on an entry where it does not. */
function searchIndex(services: Services, fields: SearchFields, log: Log, query: SearchQuery): SearchIndex {
  const state = log.indexState
  const name = log.info.name
  const queried = query.terms.flatMap((term) => (term.field === undefined ? [] : [term.field]))
  const sources = { fieldsOf: () => queried, payload: ledgerPayloads(services.ledger) }
  return {
    from: state.from,
    termsFrom: query.terms.map((term) => Math.max(state.from, term.field === undefined ? 0 : fields.indexedFrom(name, term.field, state))),
    indexOf: (entry) => entryIndex(sources, name, entry),
  }
}

/** The request's URL with `cursor` set, as a path and query: the same search, one page on. */
function nextUrl(url: string, cursor: string): string {
  const parsed = new URL(url)
  parsed.searchParams.set('cursor', cursor)
  return `${parsed.pathname}${parsed.search}`
}

/**
 * Inclusion proofs of `indexes` in the checkpoint GET checkpoint serves (for a witnessed log,
 * the newest that meets its policy), returned with its cosignatures; null for an entry that
 * checkpoint does not hold yet.
 * @throws ProblemError POLICY_UNMET when no checkpoint of a witnessed log meets its policy.
 */
async function proofsOf(services: Services, log: Log, indexes: readonly number[]):
    Promise<{ checkpoint: { size: number; note: string }; hashes: (string[] | null)[] }> {
  const { witnessing } = services
  const checkpoint = witnessing?.policy(log.info.name) === undefined
    ? { size: log.size, note: await log.cosignedCheckpoint(log.size) }
    : await witnessing!.served(log, false)
  const proofs = await Promise.all(indexes.map((index) => index < checkpoint.size ? log.inclusionProof(index, checkpoint.size) : undefined))
  return {
    checkpoint: { size: checkpoint.size, note: checkpoint.note },
    hashes: proofs.map((proof) => proof === undefined ? null : proof.proof.map(bytesToHex)),
  }
}


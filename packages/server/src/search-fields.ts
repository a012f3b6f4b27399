// Which top-level payload fields each event log indexes: set when the log is created or changed
// by PATCH /v1/logs/{log}, kept in the ledger, and given to the ledger's indexer wherever the
// ledger is opened to append. A field added later is indexed from the log's size then on, and
// over the whole log once a reindex that began after it finishes.
import type { IndexState, Ledger, ReindexOptions, RowTable, TableRow } from '@annal/store'
import { ledgerPayloads, searchIndexer } from './search-terms.js'
import { canonicalJson } from './canonical-json.js'
import { isoTime } from './envelope.js'
import { encodeUtf8 } from './internal/utf8.js'
import { ApiError } from './errors.js'

export const INDEXED_FIELDS_RECORD_TYPE = 'annal.indexed-fields/v1'

/** The ledger table of the logs' indexed payload fields, keyed by log name. */
const TABLE = 'search-fields'
const FIELD = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/
/** Most payload fields a log indexes: each is a row per event. */
export const MAX_INDEXED_FIELDS = 16

/** An indexed field: from which index appends wrote its rows, and in which change of the log's fields it was added. */
interface Field {
  readonly name: string
  readonly from: number
  readonly version: number
}

/** A log's fields, and how many times they were changed. */
interface LogFields {
  readonly version: number
  readonly fields: readonly Field[]
}

/** What a reindex is asked to build: the log's fields as they are at a version (IndexState.config). */
interface BuildConfig {
  readonly version: number
  readonly fields: readonly string[]
}

const NONE: LogFields = { version: 0, fields: [] }
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** The indexed payload fields of a ledger's logs, as kept in its `search-fields` table. */
export class SearchFields {
  readonly #table: RowTable
  readonly #logs: Map<string, LogFields>
  /** Fields being added to a log: indexed by appends already, searchable once the change is written. */
  readonly #adding = new Map<string, readonly string[]>()
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(table: RowTable, logs: Map<string, LogFields>) {
    this.#table = table
    this.#logs = logs
  }

  static async load(ledger: Ledger): Promise<SearchFields> {
    const table = ledger.table(TABLE)
    const logs = new Map<string, LogFields>()
    for await (const [log, value] of table.rows()) logs.set(log, decode(JSON.parse(utf8Decoder.decode(value)) as unknown))
    return new SearchFields(table, logs)
  }

  /** The payload fields log `log` indexes. */
  of(log: string): readonly string[] {
    return (this.#logs.get(log) ?? NONE).fields.map((field) => field.name)
  }

  /** The fields the indexer writes rows of: the log's, and those a change is adding. */
  indexed(log: string): readonly string[] {
    const adding = this.#adding.get(log)
    return adding === undefined ? this.of(log) : [...this.of(log), ...adding]
  }

  /**
   * From which index on the entries of log `log` have the rows of field `name` in the index
   * whose state is `state` (it must index the field): 0 once a reindex that began after the
   * field was added has finished, else where appends began writing them.
   */
  indexedFrom(log: string, name: string, state: IndexState): number {
    const field = (this.#logs.get(log) ?? NONE).fields.find((f) => f.name === name)
    if (field === undefined) throw new RangeError(`log ${log} does not index ${name}`)
    const built = state.config === undefined ? undefined : parseConfig(state.config)
    return built !== undefined && built.version >= field.version && built.fields.includes(name) ? 0 : field.from
  }

  /** What a reindex of log `log` is to build, as Ledger.reindex's `config`. */
  config(log: string): string {
    const { version, fields } = this.#logs.get(log) ?? NONE
    return JSON.stringify({ version, fields: fields.map((field) => field.name) } satisfies BuildConfig)
  }

  /** Whether log `log` has fields that only a reindex can index over the whole log, in the index whose state is `state`. */
  needsReindex(log: string, state: IndexState): boolean {
    return this.of(log).some((name) => this.indexedFrom(log, name, state) > 0)
  }

  /**
   * The row that gives a log being created its fields, to commit with its creation's record;
   * `adopt` once the log exists. Every creation writes one, so that a row left by an earlier log
   * of that name whose creation failed is replaced.
   */
  row(log: string, fields: readonly string[]): TableRow {
    return this.#table.row(log, encode({ version: 0, fields: fields.map((name) => ({ name, from: 0, version: 0 })) }))
  }

  adopt(log: string, fields: readonly string[]): void {
    this.#logs.set(log, { version: 0, fields: fields.map((name) => ({ name, from: 0, version: 0 })) })
  }

  /**
   * Changes the fields of log `log` to `fields`, one change at a time: appends index the fields
   * added from now on; `write` commits the row that keeps the change (with its record), given
   * the index each added field is indexed from; then searches take the new fields and leave
   * the removed ones. If `write` fails, nothing changed.
   */
  async change<T>(ledger: Ledger, log: string, fields: readonly string[],
      write: (row: TableRow, indexedFrom: Readonly<Record<string, number>>) => Promise<T>): Promise<T> {
    const run = this.#queue.then(async () => {
      const current = this.#logs.get(log) ?? NONE
      const added = fields.filter((name) => !current.fields.some((field) => field.name === name))
      this.#adding.set(log, added)
      try {
        const from = added.length === 0 ? 0 : await ledger.indexingFrom(log)
        const version = current.version + 1
        const next: LogFields = {
          version, fields: fields.map((name) => current.fields.find((field) => field.name === name) ?? { name, from, version }),
        }
        const result = await write(this.#table.row(log, encode(next)), Object.fromEntries(added.map((name) => [name, from])))
        this.#logs.set(log, next)
        return result
      } finally {
        this.#adding.delete(log)
      }
    })
    this.#queue = run.catch(() => undefined)
    return run
  }
}

function encode(fields: LogFields): Uint8Array {
  return utf8.encode(JSON.stringify(fields))
}

/** A stored row: a log's fields, or (as rows were first kept) a list of names, indexed from 0. */
function decode(value: unknown): LogFields {
  if (Array.isArray(value)) return { version: 0, fields: (value as string[]).map((name) => ({ name, from: 0, version: 0 })) }
  return value as LogFields
}

function parseConfig(config: string): BuildConfig | undefined {
  try {
    const value = JSON.parse(config) as BuildConfig
    return Number.isSafeInteger(value.version) && Array.isArray(value.fields) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The access-log leaf that says a log's indexed fields changed, from which index the added ones
 * are indexed, and why; the request's access record (same `request_id`, same write) says who.
 */
export function indexedFieldsRecord(input: { log: string; fields: readonly string[]; indexedFrom: Readonly<Record<string, number>>;
    reason: string; requestId: string; time: Date }): Uint8Array {
  return encodeUtf8(canonicalJson({
    type: INDEXED_FIELDS_RECORD_TYPE, log: input.log, indexed_fields: input.fields, indexed_from: input.indexedFrom,
    reason: input.reason, request_id: input.requestId, time: isoTime(input.time),
  }))
}

/**
 * `indexed_fields` of a request's body: distinct top-level member names.
 * @throws ApiError REQUEST_MALFORMED.
 */
export function parseIndexedFields(value: unknown): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.length > MAX_INDEXED_FIELDS || new Set(value).size !== value.length ||
    !value.every((name) => typeof name === 'string' && FIELD.test(name))) {
    throw new ApiError('REQUEST_MALFORMED',
      `indexed_fields is at most ${MAX_INDEXED_FIELDS} distinct names of letters, digits, _, . and -, starting with a letter or _`)
  }
  return value as string[]
}

const installed = new WeakMap<Ledger, Promise<SearchFields>>()

/**
 * Makes every entry appended to `ledger` from now on carry its search terms and time (see
 * entryIndex), once per ledger: call it right after opening a ledger that anything will append to.
 */
export function indexLedger(ledger: Ledger): Promise<SearchFields> {
  let fields = installed.get(ledger)
  if (fields === undefined) {
    fields = SearchFields.load(ledger).then((loaded) => {
      ledger.indexWith(searchIndexer({ fieldsOf: (log) => loaded.indexed(log), payload: ledgerPayloads(ledger) }))
      return loaded
    })
    installed.set(ledger, fields)
  }
  return fields
}

/**
 * Rebuilds the search index of log `name` of `ledger` (see Ledger.reindex) with its present
 * fields, resuming a reindex of them that was cut short.
 */
export async function reindexLog(ledger: Ledger, name: string, options: Omit<ReindexOptions, 'config'> = {}): Promise<number> {
  const fields = await indexLedger(ledger)
  return ledger.reindex(name, { config: fields.config(name), ...options })
}

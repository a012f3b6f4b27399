// Which top-level payload fields each event log indexes: set when the log is created, kept in
// the ledger, and given to the ledger's indexer wherever the ledger is opened to append.
import type { Ledger, RowTable, TableRow } from '@annal/store'
import { ledgerPayloads, searchIndexer } from './search-terms.js'
import { ApiError } from './errors.js'

/** The ledger table of the logs' indexed payload fields, keyed by log name. */
const TABLE = 'search-fields'
const FIELD = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/
/** Most payload fields a log indexes: each is a row per event. */
export const MAX_INDEXED_FIELDS = 16

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** The indexed payload fields of a ledger's logs, as kept in its `search-fields` table. */
export class SearchFields {
  readonly #table: RowTable
  readonly #fields: Map<string, readonly string[]>

  private constructor(table: RowTable, fields: Map<string, readonly string[]>) {
    this.#table = table
    this.#fields = fields
  }

  static async load(ledger: Ledger): Promise<SearchFields> {
    const table = ledger.table(TABLE)
    const fields = new Map<string, readonly string[]>()
    for await (const [log, value] of table.rows()) fields.set(log, JSON.parse(utf8Decoder.decode(value)) as string[])
    return new SearchFields(table, fields)
  }

  /** The payload fields log `log` indexes. */
  of(log: string): readonly string[] {
    return this.#fields.get(log) ?? []
  }

  /**
   * The row that gives a log being created its fields, to commit with its creation's record;
   * `adopt` once the log exists. Every creation writes one, so that a row left by an earlier log
   * of that name whose creation failed is replaced.
   */
  row(log: string, fields: readonly string[]): TableRow {
    return this.#table.row(log, utf8.encode(JSON.stringify(fields)))
  }

  adopt(log: string, fields: readonly string[]): void {
    this.#fields.set(log, fields)
  }
}

/**
 * `indexed_fields` of a log creation's body: distinct top-level member names.
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
 * Makes every entry appended to `ledger` from now on carry its search terms (see entryTerms),
 * once per ledger: call it right after opening a ledger that anything will append to.
 */
export function indexLedger(ledger: Ledger): Promise<SearchFields> {
  let fields = installed.get(ledger)
  if (fields === undefined) {
    fields = SearchFields.load(ledger).then((loaded) => {
      ledger.indexWith(searchIndexer({ fieldsOf: (log) => loaded.of(log), payload: ledgerPayloads(ledger) }))
      return loaded
    })
    installed.set(ledger, fields)
  }
  return fields
}

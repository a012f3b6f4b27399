import { UsageError } from './failure.js'

const INDEX = /^(?:0|[1-9][0-9]{0,14})$/
const ID = /^[0-9a-f]{4,64}$/

/**
 * An entry as the command line names it: an index (decimal, no leading zeros), or its id or an
 * abbreviated id (4 to 64 hex digits). Digits alone are an index, as the API reads them.
 * @throws UsageError for anything else.
 */
export function parseEntryRef(text: string): number | string {
  if (INDEX.test(text)) return Number(text)
  const id = text.toLowerCase()
  if (ID.test(id)) return id
  throw new UsageError(`${JSON.stringify(text.slice(0, 80))} names no entry: give an index, an id or at least 4 hex digits of one`)
}

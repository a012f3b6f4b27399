import { InvalidArgumentError } from 'commander'
import type { Context } from '../context.js'
import { type EntrySource, type EntryView, withEntries } from '../entry-source.js'
import { abbreviate, logLines, onelineOf, showLines } from '../entry-view.js'
import { UsageError } from '../failure.js'
import type { Program } from '../program.js'
import { appendFile } from '../append.js'

/** Entries read per step of `annal log`, newest first. */
const LOG_PAGE = 100

/** `append`, `log` and `show`. */
export function registerEntries(program: Program): void {
  program.command<{ ndjson?: boolean }, [string]>(program.root, {
    name: 'append',
    description: 'append events: a JSON file is one event, an NDJSON file (.ndjson, .jsonl or --ndjson) one event a line',
    example: 'annal append event.json\nannal append events.ndjson --log payments\necho \'{"actor":"alice","action":"login"}\' | annal append -',
    options: ['json', 'data', 'log', 'url'],
    setup: (command) => command.argument('<file>', 'the events, or - for standard input')
      .option('--ndjson', 'read the input as NDJSON whatever its name'),
    action: appendFile,
  })

  program.command<{ oneline?: boolean; maxCount?: number }, []>(program.root, {
    name: 'log',
    description: 'show the entries of a log, newest first, as git log does',
    example: 'annal log --oneline -n 10\nannal log --json --log payments',
    options: ['json', 'data', 'log', 'url'],
    setup: (command) => command.option('--oneline', 'one line an entry: abbreviated id, index, time and event')
      .option('-n, --max-count <n>', 'show at most n entries', count),
    action: showLog,
  })

  program.command<{ leaf?: boolean }, [string]>(program.root, {
    name: 'show',
    description: 'show one entry by index, id or abbreviated id (--leaf: its exact leaf bytes)',
    example: 'annal show 3f2a9c1\nannal show 0 --leaf > leaf.json',
    options: ['json', 'data', 'log', 'url'],
    setup: (command) => command.argument('<ref>', 'an index (decimal, shorter than 16 digits), an id or a prefix of one')
      .option('--leaf', 'write the leaf (the envelope whose hash is the id) to standard output as raw bytes'),
    action: showEntry,
  })
}

function count(text: string): number {
  if (!/^(?:0|[1-9][0-9]{0,8})$/.test(text)) throw new InvalidArgumentError('it takes a whole number')
  return Number(text)
}

async function showLog(ctx: Context, options: { oneline?: boolean; maxCount?: number }): Promise<void> {
  await withEntries(ctx, async (source) => {
    const size = await source.size()
    const stop = Math.max(0, size - (options.maxCount ?? size))
    for (let end = size; end > stop; end -= LOG_PAGE) {
      const entries = await source.range(Math.max(stop, end - LOG_PAGE), end)
      for (const entry of entries.reverse()) await printLogEntry(ctx, source, entry, options.oneline === true)
    }
  })
}

async function printLogEntry(ctx: Context, source: EntrySource, entry: EntryView, oneline: boolean): Promise<void> {
  if (ctx.json) ctx.io.out(JSON.stringify(entry))
  else if (oneline) ctx.io.out(onelineOf(entry, await abbreviate(entry.id, source.unique)))
  else for (const line of logLines(entry)) ctx.io.out(line)
}

async function showEntry(ctx: Context, options: { leaf?: boolean }, ref: string): Promise<void> {
  if (options.leaf === true && ctx.json) throw new UsageError('show takes --leaf or --json, not both')
  await withEntries(ctx, async (source) => {
    const entry = await source.get(ref)
    if (options.leaf === true) ctx.io.write(await source.leaf(entry))
    else ctx.print(entry, () => showLines(entry).forEach((line) => ctx.io.out(line)))
  })
}

// A child process for crash.test.ts and lock.test.ts. Run it as
//   node --import tsx --conditions=source crash-child.ts <mode> <directory>
// and read one JSON object per stdout line:
//   append     waits for a line {retry: [text, ...]} on stdin, opens the ledger (creating logs
//              'crash' and 'shadow' if missing) and prints {ready, size, verifierKey}. It appends
//              the retries first, as a client would after a crash, then appends fresh entries
//              from several loops until killed; each call appends the same texts to both logs
//              in one Ledger.append, with each text also stored as an object, so the two logs
//              must always hold the same entries, and every entry its object. Before each
//              append it prints {submitted: [text, ...]}; after the append resolves (that is,
//              once its batch is durable) it prints {entries: [[index, id, duplicate], ...],
//              checkpoint: {size, root, note}} for 'crash'.
//   open-only  tries to open the ledger, prints {opened: true, logs} or {error: code}, exits.
//   hold       opens the ledger, prints {ready: true}, and closes it when a line arrives on
//              stdin, printing {closed: true}.
// Every mode exits when stdin ends, so a child never outlives its parent for long.
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { Ledger } from '../ledger.js'
import { isStorageError } from '@annal/storage'
import { isStoreError } from '../errors.js'

const LOG = 'crash'
const SHADOW = 'shadow'
const HOST = 'crash.test'
const LOOPS = 4
const MAX_BATCH = 20

const utf8 = new TextEncoder()
const stdin = createInterface({ input: process.stdin })
const stdinLines = stdin[Symbol.asyncIterator]()

// Synchronous for pipes on Linux: once this returns, the parent can read the line.
function report(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/** The next line on stdin; exits when stdin ends, i.e. when the parent is gone. */
async function nextStdinLine(): Promise<string> {
  stdin.once('close', () => process.exit(0))
  const { value } = await stdinLines.next()
  return value as string
}

async function openLedger(directory: string): Promise<Ledger> {
  // Half the children take small batches, so that a full batch is often waiting and is staged on
  // top of the write in flight; with the default, a batch gathers the calls made during a write.
  return Ledger.open(directory, { originPrefix: HOST, maxBatchSize: Math.random() < 0.5 ? 64 : undefined })
}

/** Appends texts to both logs and reports them before and after. */
async function appendReported(ledger: Ledger, texts: readonly string[]): Promise<void> {
  report({ submitted: texts })
  const entries = texts.map((text) => utf8.encode(text))
  const objects = ledger.objects.hashed(entries.map((bytes) => ({ bytes })))
  const result = (await ledger.append([{ log: LOG, entries }, { log: SHADOW, entries }], { objects }))[0]!
  report({
    entries: result.entries.map((entry) => [entry.index, entry.id, entry.duplicate]),
    checkpoint: result.checkpoint,
  })
}

async function append(directory: string): Promise<void> {
  const { retry } = JSON.parse(await nextStdinLine()) as { retry: string[] }
  const ledger = await openLedger(directory)
  for (const name of [LOG, SHADOW]) if (!ledger.logs().some((info) => info.name === name)) await ledger.createLog(name)
  const log = ledger.log(LOG)
  report({ ready: true, size: log.size, verifierKey: log.info.verifierKey })
  for (let i = 0; i < retry.length; i += MAX_BATCH) await appendReported(ledger, retry.slice(i, i + MAX_BATCH))
  // Fresh texts are unique per child (pids repeat) and per entry: never duplicates.
  const tag = `${process.pid}-${randomBytes(8).toString('hex')}`
  let counter = 0
  const loop = async (loopIndex: number): Promise<never> => {
    for (;;) {
      const count = 1 + Math.floor(Math.random() * MAX_BATCH)
      await appendReported(ledger, Array.from({ length: count }, () =>
        `${tag} ${loopIndex} ${counter++} ${'x'.repeat(Math.floor(Math.random() * 200))}`))
    }
  }
  await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)))
}

async function openOnly(directory: string): Promise<void> {
  try {
    const ledger = await openLedger(directory)
    report({ opened: true, logs: ledger.logs().map((info) => info.name) })
    await ledger.close()
  } catch (error) {
    if (!isStoreError(error) && !isStorageError(error)) throw error
    report({ error: error.code })
  }
  process.exit(0)
}

async function hold(directory: string): Promise<void> {
  const ledger = await openLedger(directory)
  report({ ready: true })
  await nextStdinLine()
  await ledger.close()
  report({ closed: true })
  process.exit(0)
}

const [mode, directory] = process.argv.slice(2)
if (directory === undefined) throw new TypeError('usage: crash-child.ts <append|open-only|hold> <directory>')
const modes: Record<string, (directory: string) => Promise<void>> = { append, 'open-only': openOnly, hold }
const run = modes[mode!]
if (run === undefined) throw new TypeError(`unknown mode ${mode}`)
run(directory).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})

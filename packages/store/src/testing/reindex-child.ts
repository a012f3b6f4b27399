// A child process for reindex-crash.test.ts: node --import tsx --conditions=source reindex-child.ts <directory>
// Opens the ledger; the first time, creates log 'reindex' with ENTRIES entries appended without
// an indexer. Then, with an indexer (each word of an entry is a term, its second word its
// time, which now and then steps back), appends from several loops and reindexes the log over
// and over until killed, printing {size} after each append resolves, {done,total} after each
// write of a reindex and {reindexed} after each reindex. Exits when stdin ends.
import { Ledger } from '../ledger.js'

const LOG = 'reindex'
const ENTRIES = 12_000
const WORDS = ['red', 'green', 'blue', 'cyan']
const LOOPS = 3
const utf8 = new TextEncoder()
const text = new TextDecoder()

const directory = process.argv[2]
if (directory === undefined) throw new TypeError('usage: reindex-child.ts <directory>')
process.stdin.on('end', () => process.exit(0)).resume()
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
let counter = 0
const entry = () => {
  const time = Date.now() - (Math.random() < 0.05 ? 60_000 : 0)
  return utf8.encode([`${process.pid}-${counter++}`, time, ...WORDS.filter(() => Math.random() < 0.4)].join(' '))
}

const ledger = await Ledger.open(directory, { originPrefix: 'reindex.test' })
if (!ledger.logs().some((info) => info.name === LOG)) {
  await ledger.createLog(LOG)
  for (let i = 0; i < ENTRIES; i += 1000) await ledger.log(LOG).append(Array.from({ length: 1000 }, entry))
}
ledger.indexWith((_log, bytes) => {
  const [, time, ...words] = text.decode(bytes).split(' ')
  return { terms: words.map((word) => utf8.encode(word)), time: Number(time) }
})
const append = async (): Promise<never> => {
  for (;;) {
    const { checkpoint } = await ledger.log(LOG).append(Array.from({ length: 1 + Math.floor(Math.random() * 20) }, entry))
    print({ size: checkpoint.size })
  }
}
const reindex = async (): Promise<never> => {
  for (;;) {
    await ledger.reindex(LOG, { config: 'words', onProgress: (done, total) => print({ done, total }) })
    print({ reindexed: true })
  }
}
await Promise.all([...Array.from({ length: LOOPS }, append), reindex()])

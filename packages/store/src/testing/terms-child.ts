// A child process for terms-crash.test.ts: node --import tsx --conditions=source terms-child.ts <directory>
// Opens the ledger with an indexer (each word of an entry is a term), creates log 'terms' if
// missing, then appends entries of random words from several loops until killed, printing
// {size} after each append resolves. Exits when stdin ends, so it never outlives its parent for long.
import { Ledger } from '../ledger.js'

const LOG = 'terms'
const WORDS = ['red', 'green', 'blue', 'cyan']
const LOOPS = 4
const utf8 = new TextEncoder()
const text = new TextDecoder()

const directory = process.argv[2]
if (directory === undefined) throw new TypeError('usage: terms-child.ts <directory>')
process.stdin.on('end', () => process.exit(0)).resume()
const ledger = await Ledger.open(directory, { originPrefix: 'terms.test', maxBatchSize: Math.random() < 0.5 ? 64 : undefined })
ledger.indexWith((_log, entry) => ({ terms: text.decode(entry).split(' ').slice(1).map((word) => utf8.encode(word)) }))
if (!ledger.logs().some((info) => info.name === LOG)) await ledger.createLog(LOG)
let counter = 0
const loop = async (): Promise<never> => {
  for (;;) {
    const entries = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => {
      const words = WORDS.filter(() => Math.random() < 0.4)
      return utf8.encode([`${process.pid}-${counter++}`, ...words].join(' '))
    })
    const { checkpoint } = await ledger.log(LOG).append(entries)
    process.stdout.write(`${JSON.stringify({ size: checkpoint.size })}\n`)
  }
}
await Promise.all(Array.from({ length: LOOPS }, loop))

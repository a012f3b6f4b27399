// npm run bench -w packages/store [-- --entries N --rounds R]: durable appends next to raw LevelDB
// writing the same rows (bench/raw-log.ts) in alternating rounds, proofs per second, disk bytes
// and RSS.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_WRITE_BUFFER_BYTES, Ledger, type Log } from '@annal/store'
import { formatRate, goal, machineLine, opsPerSecondAsync, prng, report, residentMemory } from '../../../scripts/bench.js'
import { RawDatabase } from './raw-log.js'

const ENTRIES = Number(argument('--entries') ?? 1_000_000)
const ROUNDS = Number(argument('--rounds') ?? 4)
const ENTRY_SIZE = 256
const BATCH = 1000
const CALLERS = 2000
const PROOFS = 50_000
/** Flat RSS: anonymous RSS after the last round at most this much above the first round's. */
const RSS_GROWTH = 0.25

console.log(`store benchmark: ${machineLine()}; ${ENTRIES.toLocaleString('en-US')} entries of ${ENTRY_SIZE} bytes ` +
  `in ${ROUNDS} rounds, each raw LevelDB then the ledger`)
const pool = Array.from({ length: 65536 }, () => randomBytes(ENTRY_SIZE))

const rawDirectory = await mkdtemp(join(tmpdir(), 'annal-bench-raw-'))
const rawDatabase = await RawDatabase.open(rawDirectory, DEFAULT_WRITE_BUFFER_BYTES)
const raw = rawDatabase.log('bench', record)
const ledgerDirectory = await mkdtemp(join(tmpdir(), 'annal-bench-ledger-'))
const ledger = await Ledger.open(ledgerDirectory, { originPrefix: 'bench.example', maxBatchSize: BATCH })
await ledger.createLog('bench')
const log = ledger.log('bench')

// The machine's speed drifts within minutes, so raw and ledger take turns and the ratio is of
// their totals, each round's beside it.
const rounds: { count: number; raw: number; ledger: number; rss: ReturnType<typeof residentMemory>; heap: number }[] = []
for (let round = 1; round <= ROUNDS; round++) {
  const end = Math.round(ENTRIES * round / ROUNDS)
  const count = end - log.size
  const rawSeconds = count / await opsPerSecondAsync(count, () => raw.append(end, BATCH))
  const ledgerSeconds = count / await opsPerSecondAsync(count, () => appendTo(log, end))
  rounds.push({ count, raw: rawSeconds, ledger: ledgerSeconds, rss: residentMemory(), heap: process.memoryUsage().heapUsed })
}
const rawSeconds = rounds.reduce((sum, r) => sum + r.raw, 0)
const ledgerSeconds = rounds.reduce((sum, r) => sum + r.ledger, 0)
const ratio = rawSeconds / ledgerSeconds
const byRound = (f: (r: (typeof rounds)[number]) => string) => rounds.map(f).join(' ')
report(`raw LevelDB, the ledger's rows, chained synced batches of ${BATCH}`, formatRate(ENTRIES / rawSeconds),
  `by round ${byRound((r) => Math.round(r.count / r.raw).toLocaleString('en-US'))}`)
report(`ledger append, ${CALLERS} concurrent callers`, formatRate(ENTRIES / ledgerSeconds),
  `by round ${byRound((r) => Math.round(r.count / r.ledger).toLocaleString('en-US'))}`)
report('ledger / raw', ratio.toFixed(2), `${goal(ratio >= 0.8, '>= 0.80')}; by round ${byRound((r) => (r.raw / r.ledger).toFixed(2))}`)

const memory = rounds.map((r) => r.rss.anon ?? r.rss.rss)
const growth = memory.at(-1)! / memory[0]! - 1
report('RSS after each round (MiB)', byRound((r) => r.rss.rss.toFixed(0)))
report('  of which anonymous (allocated by the process)', byRound((r) => r.rss.anon?.toFixed(0) ?? '?'),
  `last ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)}% on the first; ${goal(growth <= RSS_GROWTH, `flat: <= +${RSS_GROWTH * 100}%`)}`)
report('  of which file-backed (mapped LevelDB tables)', byRound((r) => r.rss.file?.toFixed(0) ?? '?'))
report('JS heap used after each round (MiB)', byRound((r) => (r.heap / 2 ** 20).toFixed(0)))

const proofs = await proofRate(log)
report('proofs (half inclusion, half consistency; random sizes)', formatRate(proofs), goal(proofs >= 20_000, '>= 20,000/s'))

await rawDatabase.close()
await ledger.close()
const rawBytes = await directorySize(rawDirectory)
const ledgerBytes = await directorySize(join(ledgerDirectory, 'db'))
await rm(rawDirectory, { recursive: true, force: true })
await rm(ledgerDirectory, { recursive: true, force: true })
const overhead = ledgerBytes / (ENTRIES * ENTRY_SIZE)
report('disk bytes per entry, ledger', (ledgerBytes / ENTRIES).toFixed(1),
  `${overhead.toFixed(2)} of the entries' bytes; ${goal(overhead <= 1.5, '<= 1.5')}; raw ${(rawBytes / ENTRIES).toFixed(1)}`)

/** Appends records log.size..end-1, one a call, from CALLERS concurrent callers. */
async function appendTo(log: Log, end: number): Promise<void> {
  let next = log.size
  await Promise.all(Array.from({ length: CALLERS }, async () => {
    while (next < end) await log.append([record(next++)])
  }))
}

async function proofRate(log: Log): Promise<number> {
  const random = prng()
  const size = log.size
  let done = 0
  return opsPerSecondAsync(PROOFS, async () => {
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (done++ < PROOFS) {
        if (done % 2 === 0) {
          const treeSize = 1 + Math.floor(random() * size)
          await log.inclusionProof(Math.floor(random() * treeSize), treeSize)
        } else {
          const n = 1 + Math.floor(random() * size)
          await log.consistencyProof(Math.floor(random() * n), n)
        }
      }
    }))
  })
}

/** Record i: 256 random bytes from a pool, made unique by i in its first 8 bytes. Made on
 *  demand, the same way for both, so memory stays flat however many records are written. */
function record(i: number): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE)
  out.set(pool[i % pool.length]!)
  new DataView(out.buffer).setFloat64(0, i)
  return out
}

async function directorySize(directory: string): Promise<number> {
  let total = 0
  for (const name of await readdir(directory)) total += (await stat(join(directory, name))).size
  return total
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

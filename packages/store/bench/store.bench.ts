// npm run bench -w packages/store [-- --entries N]: durable appends next to raw LevelDB writes of
// the same records in the same batch sizes, proofs per second, disk bytes and RSS per entry.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_WRITE_BUFFER_BYTES, Ledger } from '@annal/store'
import { Level } from 'level'
import { formatRate, goal, machineLine, opsPerSecondAsync, prng, report, residentMemory } from '../../../scripts/bench.js'

const ENTRIES = Number(argument('--entries') ?? 1_000_000)
const ENTRY_SIZE = 256
const BATCH = 1000
const CALLERS = 2000
const PROOFS = 50_000

console.log(`store benchmark: ${machineLine()}; ${ENTRIES.toLocaleString('en-US')} entries of ${ENTRY_SIZE} bytes`)
const pool = Array.from({ length: 65536 }, () => randomBytes(ENTRY_SIZE))
const raw = await rawBaseline('batch')
const rawChained = await rawBaseline('chained')
const ledger = await ledgerAppends()
report('disk bytes per entry, ledger', (ledger.diskBytes / ENTRIES).toFixed(1),
  `${(ledger.diskBytes / raw.diskBytes).toFixed(2)} of raw; ${goal(ledger.diskBytes / raw.diskBytes <= 1.5, '<= 1.5')}`)
report('RSS during appends (MiB) at 25/50/75/100%', ledger.rss.map((r) => r.rss.toFixed(0)).join('/'))
report('  of which anonymous (allocated by the process)', ledger.rss.map((r) => r.anon?.toFixed(0) ?? '?').join('/'), 'goal: flat')
report('  of which file-backed (mapped LevelDB tables)', ledger.rss.map((r) => r.file?.toFixed(0) ?? '?').join('/'))
report('JS heap used during appends (MiB) at 25/50/75/100%', ledger.heap.map((r) => (r / 2 ** 20).toFixed(0)).join('/'))

/**
 * `batch`: LevelDB's public array API, as the goal is stated; `chained`: a chained batch, the path
 * LevelDriver takes. Both with the ledger's write buffer, so only what the ledger adds differs.
 */
async function rawBaseline(method: 'batch' | 'chained'): Promise<{ rate: number; diskBytes: number }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-bench-raw-'))
  const db = new Level<Uint8Array, Uint8Array>(directory, {
    keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: DEFAULT_WRITE_BUFFER_BYTES,
  })
  await db.open()
  const rate = await opsPerSecondAsync(ENTRIES, async () => {
    for (let start = 0; start < ENTRIES; start += BATCH) {
      const ops = []
      for (let i = start; i < Math.min(ENTRIES, start + BATCH); i++) {
        ops.push({ type: 'put' as const, key: key(i), value: record(i) })
      }
      if (method === 'batch') {
        await db.batch(ops, { sync: true })
      } else {
        const batch = db.batch()
        for (const op of ops) batch.put(op.key, op.value)
        await batch.write({ sync: true })
      }
    }
  })
  await db.close()
  const diskBytes = await directorySize(directory)
  await rm(directory, { recursive: true, force: true })
  report(`raw LevelDB ${method}(), synced batches of ${BATCH} (baseline)`, formatRate(rate))
  if (method === 'batch') report('disk bytes per entry, raw', (diskBytes / ENTRIES).toFixed(1))
  return { rate, diskBytes }
}

async function ledgerAppends(): Promise<{ diskBytes: number; rss: ReturnType<typeof residentMemory>[]; heap: number[] }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-bench-ledger-'))
  const ledger = await Ledger.open(directory, { host: 'bench.example', maxBatchSize: BATCH })
  await ledger.createLog('bench')
  const log = ledger.log('bench')
  const rss: ReturnType<typeof residentMemory>[] = []
  const heap: number[] = []
  let next = 0
  const rate = await opsPerSecondAsync(ENTRIES, async () => {
    await Promise.all(Array.from({ length: CALLERS }, async () => {
      while (next < ENTRIES) {
        const i = next++
        await log.append([record(i)])
        if ((i + 1) % (ENTRIES / 4) === 0) {
          rss.push(residentMemory())
          heap.push(process.memoryUsage().heapUsed)
        }
      }
    }))
  })
  report(`ledger append, ${CALLERS} concurrent callers`, formatRate(rate),
    `${(rate / raw.rate).toFixed(2)} of raw batch(); ${goal(rate / raw.rate >= 0.8, '>= 0.80')}; ${(rate / rawChained.rate).toFixed(2)} of raw chained batch`)

  const random = prng()
  const size = log.size
  let done = 0
  const proofs = await opsPerSecondAsync(PROOFS, async () => {
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
  report('proofs (half inclusion, half consistency; random sizes)', formatRate(proofs), goal(proofs >= 20_000, '>= 20,000/s'))
  await ledger.close()
  const diskBytes = await directorySize(join(directory, 'db'))
  await rm(directory, { recursive: true, force: true })
  return { diskBytes, rss, heap }
}

/** Record i: 256 random bytes from a pool, made unique by i in its first 8 bytes. Made on
 *  demand, the same way for both runs, so memory stays flat however many records are written. */
function record(i: number): Uint8Array {
  const out = new Uint8Array(ENTRY_SIZE)
  out.set(pool[i % pool.length]!)
  new DataView(out.buffer).setFloat64(0, i)
  return out
}

function key(i: number): Uint8Array {
  const out = new Uint8Array(9)
  out[0] = 0x72
  new DataView(out.buffer).setBigUint64(1, BigInt(i))
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

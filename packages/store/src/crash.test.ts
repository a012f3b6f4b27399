// The crash test: a child process appends from several loops and reports every resolved
// append; we SIGKILL it at random points, reopen the ledger, and check that everything it was
// told is still true. A reported append was durable, so after any crash its entries sit at
// their indexes, its checkpoint is still served, and every checkpoint ever reported is
// consistent with the latest one. Like a client after a crash, the next child first appends
// again what was submitted but never acknowledged: those come back as fresh entries or as
// duplicates at their true index, never at an index holding something else.
// The seed (in the test name) fixes kill points and samples: ANNAL_CRASH_SEED=<seed> to rerun.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { nodeEd25519, nodeHasher } from '@annal/crypto-node'
import { type NoteVerifier, openCheckpoint, parseVerifierKey } from '@annal/note'
import {
  MemoryTree, TILE_WIDTH, bytesToHex, decodeEntryBundle, hexToBytes, verifyConsistency, verifyInclusion,
} from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'
import type { Log } from './log.js'

const KILLS = 40
const KILL_AFTER_MS = [20, 150] as const
const READY_TIMEOUT_MS = 20_000
const EXIT_TIMEOUT_MS = 20_000
const SAMPLES = 5
/** Entries, newest first, whose objects are checked after each kill. */
const OBJECT_SAMPLE = 200
const SEED = Number(process.env.ANNAL_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
if (!Number.isSafeInteger(SEED)) throw new RangeError('ANNAL_CRASH_SEED must be an integer')
const utf8 = new TextEncoder()
const PROVIDERS = { hash: nodeHasher.provider, signature: nodeEd25519 }
const STORE_DIR = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./testing/crash-child.ts', import.meta.url))

/** mulberry32: kill points and samples follow from SEED. */
function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A crash-child.ts process and the complete lines it has printed. */
class Child {
  readonly lines: string[] = []
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly #process: ChildProcess
  #partial = ''
  #stderr = ''
  #wake: () => void = () => {}

  constructor(mode: string, directory: string, live: Set<Child>) {
    this.#process = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD, mode, directory],
      { cwd: STORE_DIR, stdio: ['pipe', 'pipe', 'pipe'] })
    live.add(this)
    this.#process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n')
      // A line cut short by SIGKILL never gets its newline and is never counted.
      this.#partial = parts.pop()!
      this.lines.push(...parts)
      this.#wake()
    })
    this.#process.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.#stderr += chunk })
    this.exited = new Promise((resolve, reject) => {
      this.#process.once('error', reject)
      // 'close' comes after 'exit' and after stdout has ended, so every line is in.
      this.#process.once('close', (code, signal) => {
        live.delete(this)
        this.#wake()
        resolve({ code, signal })
      })
    })
  }

  get stderr(): string {
    return this.#stderr.slice(-2000)
  }

  send(line: string): void {
    this.#process.stdin!.write(`${line}\n`)
  }

  kill(): void {
    this.#process.kill('SIGKILL')
  }

  /** The first line printed, parsed; fails if none comes within `timeoutMs` or the child ends. */
  async firstLine(timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    while (this.lines.length === 0) {
      if (this.#process.exitCode !== null || this.#process.signalCode !== null) {
        throw new Error(`the child ended before ${what}; stderr:\n${this.stderr}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`the child did not report ${what} within ${timeoutMs} ms; stderr:\n${this.stderr}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => { clearTimeout(timer); resolve() }
      })
    }
    return JSON.parse(this.lines[0]!) as Record<string, unknown>
  }

  /** Waits for the process to end, failing after `timeoutMs`. */
  async ended(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timeout = sleep(timeoutMs).then(() => { throw new Error(`the child did not exit within ${timeoutMs} ms`) })
    return Promise.race([this.exited, timeout])
  }
}

interface ReportedCheckpoint {
  readonly size: number
  readonly root: string
  readonly note: string
}

interface Report {
  readonly entries: readonly (readonly [number, string, boolean])[]
  readonly checkpoint: ReportedCheckpoint
}

/** Everything the children were told, and what the ledger looked like at the last reopen. */
class Acknowledged {
  /** By index: the id and the size of the first checkpoint reported with it. */
  readonly entries = new Map<number, { readonly id: string; readonly size: number }>()
  readonly indexOf = new Map<string, number>()
  readonly checkpoints = new Map<number, ReportedCheckpoint>()
  readonly indexes: number[] = []
  readonly sizes: number[] = []
  /** Checkpoint sizes reported since the last verification. */
  fresh: number[] = []
  latest: ReportedCheckpoint | undefined
  reports = 0
  duplicates = 0
  readonly verifier: NoteVerifier

  constructor(readonly verifierKey: string) {
    this.verifier = parseVerifierKey(verifierKey, { providers: PROVIDERS })
  }

  /**
   * Records one report, checking it against the note's signature and earlier reports. Only
   * `retried` entries may come back as duplicates, and then at the index they were given.
   */
  record(report: Report, retried: ReadonlySet<string>): void {
    const { size, root, note } = report.checkpoint
    const known = this.checkpoints.get(size)
    if (known === undefined) {
      const opened = openCheckpoint(note, [this.verifier])
      expect({ size: opened.size, root: bytesToHex(opened.rootHash) }, 'a reported checkpoint note').toEqual({ size, root })
      this.checkpoints.set(size, report.checkpoint)
      this.sizes.push(size)
      this.fresh.push(size)
    } else {
      expect(note, `two checkpoints reported at size ${size}`).toBe(known.note)
    }
    for (const [index, id, duplicate] of report.entries) {
      if (duplicate) {
        expect(retried.has(id), `entry ${index} reported as a duplicate, never retried`).toBe(true)
        this.duplicates++
      }
      expect(index, `entry ${index} outside its checkpoint of size ${size}`).toBeLessThan(size)
      const earlier = this.entries.get(index)
      if (earlier !== undefined) {
        expect(id, `index ${index} reported twice with different ids`).toBe(earlier.id)
        continue
      }
      const other = this.indexOf.get(id)
      if (other !== undefined) expect(index, `entry ${id} reported at two indexes`).toBe(other)
      this.entries.set(index, { id, size })
      this.indexOf.set(id, index)
      this.indexes.push(index)
    }
    this.reports++
  }
}

function pick<T>(values: readonly T[], count: number, random: () => number): T[] {
  return Array.from({ length: Math.min(count, values.length) }, () => values[Math.floor(random() * values.length)]!)
}

async function checkConsistent(log: Log, from: ReportedCheckpoint, to: ReportedCheckpoint): Promise<void> {
  expect(await log.checkpoint(from.size), `the checkpoint served at size ${from.size}`).toBe(from.note)
  const proof = await log.consistencyProof(from.size, to.size)
  verifyConsistency(from.size, to.size, proof, hexToBytes(from.root), hexToBytes(to.root), nodeHasher)
}

async function checkIncluded(log: Log, index: number, id: string, checkpoint: ReportedCheckpoint): Promise<void> {
  const proof = await log.inclusionProof(index, checkpoint.size)
  verifyInclusion(index, checkpoint.size, hexToBytes(id), proof.proof, hexToBytes(checkpoint.root), nodeHasher)
}

/**
 * Every acknowledged entry sits at its index with its id. Reads each entry bundle as served
 * (faster than `entries`, which spells every id in hex); `entry` is sampled in `checkReopened`.
 */
async function checkEntries(log: Log, acked: Acknowledged): Promise<void> {
  for (let bundle = 0; bundle * TILE_WIDTH < log.size; bundle++) {
    const first = bundle * TILE_WIDTH
    const entries = decodeEntryBundle(await log.entryBundle(bundle, Math.min(TILE_WIDTH, log.size - first)))
    entries.forEach((data, i) => {
      const expected = acked.entries.get(first + i)
      if (expected === undefined) return
      const id = Buffer.from(nodeHasher.leaf(data)).toString('hex')
      if (id !== expected.id) expect(id, `entry ${first + i} after a crash`).toBe(expected.id)
    })
  }
}

/**
 * Checks a reopened log against everything acknowledged so far, then takes its latest
 * checkpoint as the new reference. Checkpoints reported since the last reopen, a sample of older ones and the
 * previous latest are proved consistent with the new latest; since the previous latest was
 * consistent with everything before it, so is every checkpoint ever reported.
 */
async function checkReopened(log: Log, acked: Acknowledged, random: () => number): Promise<void> {
  const opened = openCheckpoint(await log.checkpoint(), [acked.verifier])
  const latest: ReportedCheckpoint = { size: opened.size, root: bytesToHex(opened.rootHash), note: await log.checkpoint() }
  expect(latest.size, 'the latest checkpoint is at the log size').toBe(log.size)
  expect(latest.size, 'the log shrank').toBeGreaterThanOrEqual(acked.latest?.size ?? 0)
  const reported = acked.fresh.reduce((a, b) => Math.max(a, b), 0)
  expect(latest.size, 'an acknowledged checkpoint is beyond the log').toBeGreaterThanOrEqual(reported)
  if (acked.latest !== undefined) await checkConsistent(log, acked.latest, latest)
  for (const size of [...acked.fresh, ...pick(acked.sizes, SAMPLES, random)]) {
    await checkConsistent(log, acked.checkpoints.get(size)!, latest)
  }
  await checkEntries(log, acked)
  for (const index of pick(acked.indexes, SAMPLES, random)) {
    const { id, size } = acked.entries.get(index)!
    expect((await log.entry(index)).id, `entry ${index} after a crash`).toBe(id)
    await checkIncluded(log, index, id, acked.checkpoints.get(size)!)
    await checkIncluded(log, index, id, latest)
  }
  acked.fresh = []
  acked.latest = latest
}

/** The final check, over everything: each checkpoint's root is recomputed from the entries. */
async function checkEverything(log: Log, acked: Acknowledged): Promise<void> {
  const tree = new MemoryTree(nodeHasher)
  const chunk = 64 * 256
  for (let start = 0; start < log.size; start += chunk) {
    tree.appendMany((await log.entries(start, chunk)).map((entry) => hexToBytes(entry.id)))
  }
  expect(bytesToHex(tree.root()), 'the latest root over all entries').toBe(acked.latest!.root)
  for (const checkpoint of acked.checkpoints.values()) {
    expect(bytesToHex(tree.root(checkpoint.size)), `the root at ${checkpoint.size}`).toBe(checkpoint.root)
    await checkConsistent(log, checkpoint, acked.latest!)
  }
  for (const index of acked.indexes.slice(0, 1000)) {
    expect(await log.resolve(acked.entries.get(index)!.id), `looking entry ${index} up by id`).toBe(index)
  }
}

function leafId(text: string): string {
  return Buffer.from(nodeHasher.leaf(utf8.encode(text))).toString('hex')
}

/** Records a killed child's reports; returns what it submitted that was never acknowledged. */
function collect(lines: readonly string[], acked: Acknowledged, retried: ReadonlySet<string>): string[] {
  const submitted = new Map<string, string>()
  for (const line of lines) {
    const value = JSON.parse(line) as Report | { readonly submitted: readonly string[] }
    if ('submitted' in value) for (const text of value.submitted) submitted.set(leafId(text), text)
    else acked.record(value, retried)
  }
  return [...submitted].filter(([id]) => !acked.indexOf.has(id)).map(([, text]) => text)
}

/** Opens the ledger the way the next writer would, and checks it; the last time, everything. */
async function reopenAndCheck(directory: string, acked: Acknowledged, random: () => number, last: boolean): Promise<void> {
  // LevelDB's lock went with the killed process, so the directory opens at once.
  const ledger = await Ledger.open(directory, { originPrefix: 'crash.test' })
  try {
    const log = ledger.log('crash')
    expect(log.info.verifierKey, 'the log key after a crash').toBe(acked.verifierKey)
    // Every call appended the same texts to both logs in one write: a kill between two writes
    // would leave them different.
    const shadow = ledger.log('shadow').checkpointInfo
    expect({ size: shadow.size, root: shadow.root }, 'the shadow log after a crash')
      .toEqual({ size: log.size, root: log.checkpointInfo.root })
    // The same write stored each entry's text as an object: the newest entries have theirs.
    for (const entry of await log.entries(Math.max(0, log.size - OBJECT_SAMPLE), OBJECT_SAMPLE)) {
      const [object] = ledger.objects.hashed([{ bytes: entry.data }])
      expect((await ledger.objects.info(object!.hash)).size, `the object of entry ${entry.index} after a crash`).toBe(entry.data.length)
    }
    await checkReopened(log, acked, random)
    if (last) await checkEverything(log, acked)
  } finally {
    await ledger.close()
  }
}

// One test per kill, so that each finishes well inside the default timeout; they share the
// ledger and what the children were told, and once one fails the rest are skipped.
describe.sequential(`a ledger killed with SIGKILL mid-append (seed ${SEED})`, () => {
  const live = new Set<Child>()
  const random = prng(SEED)
  const stats = { cyclesWithReports: 0, retried: 0 }
  let directory: string
  let acked: Acknowledged | undefined
  // What the last child submitted but was never told about; the next one appends it again.
  let retry: string[] = []
  let next: Child
  let broken = false

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-crash-'))
    next = new Child('append', directory, live)
  })

  afterAll(async () => {
    for (const child of live) child.kill()
    await Promise.all([...live].map((child) => child.ended(EXIT_TIMEOUT_MS)))
    await rm(directory, { recursive: true, force: true })
  })

  for (let kill = 0; kill < KILLS; kill++) {
    it(`keeps every acknowledged entry and checkpoint across kill ${kill + 1} of ${KILLS}`, async (context) => {
      if (broken) context.skip()
      broken = true
      const where = `cycle ${kill}, seed ${SEED}`
      const child = next
      child.send(JSON.stringify({ retry }))
      const ready = await child.firstLine(READY_TIMEOUT_MS, `ready (${where})`)
      acked ??= new Acknowledged(ready.verifierKey as string)
      expect(ready, `the child's view on opening (${where})`)
        .toMatchObject({ ready: true, size: acked.latest?.size ?? 0, verifierKey: acked.verifierKey })
      // The next child starts up (hundreds of ms) while this one appends; it waits for its line.
      if (kill < KILLS - 1) next = new Child('append', directory, live)
      await sleep(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]))
      child.kill()
      const exit = await child.ended(EXIT_TIMEOUT_MS)
      expect(exit, `the child's end (${where}); stderr:\n${child.stderr}`).toEqual({ code: null, signal: 'SIGKILL' })
      const reports = acked.reports
      stats.retried += retry.length
      retry = collect(child.lines.slice(1), acked, new Set(retry.map(leafId)))
      if (acked.reports > reports) stats.cyclesWithReports++
      await reopenAndCheck(directory, acked, random, kill === KILLS - 1)
      broken = false
    })
  }

  it('got appends through in most cycles', (context) => {
    if (broken) context.skip()
    const summary = {
      ...stats, reports: acked!.reports, entries: acked!.entries.size, duplicates: acked!.duplicates, size: acked!.latest!.size,
    }
    console.log(`crash test, seed ${SEED}: ${KILLS} kills, ${JSON.stringify(summary)}`)
    // A run in which the children never got an append through would prove nothing.
    expect(stats.cyclesWithReports, 'cycles in which the child acknowledged an append').toBeGreaterThan(KILLS / 4)
  })
})

// Small helpers shared by the packages' `npm run bench` scripts. Benchmarks print figures;
// they never assert timings.
import { readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'

/** Runs `work` (which does `count` operations) and returns operations per second. */
export function opsPerSecond(count: number, work: () => void): number {
  const start = process.hrtime.bigint()
  work()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return count / seconds
}

/** Async variant of opsPerSecond. */
export async function opsPerSecondAsync(count: number, work: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint()
  await work()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  return count / seconds
}

export function formatRate(rate: number): string {
  return `${Math.round(rate).toLocaleString('en-US')}/s`
}

/**
 * A goal as a report note: its text, and MISSED when the figure does not reach it, or when
 * `errors` operations of the run failed: a figure that leaves failures out measures another
 * load than the goal's, so such a run is invalid whatever it reached.
 */
export function goal(met: boolean, text: string, errors = 0): string {
  if (errors > 0) return `goal ${text}: MISSED (run invalid: ${errors.toLocaleString('en-US')} errors)`
  return `goal ${text}${met ? '' : ': MISSED'}`
}

/** One line a figure: name, value, and an optional note such as a ratio to a baseline. */
export function report(name: string, value: string, note = ''): void {
  console.log(`${name.padEnd(58)} ${value.padStart(14)}  ${note}`)
}

/**
 * The date, Node, the cores and memory, and the load average: other work on the machine slows
 * every figure, and baselines do not slow alike, so a run says how busy its machine was.
 */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu'
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} x ${cpu}, ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`
}

/** A deterministic pseudo-random generator (xorshift32), so runs are comparable. */
export function prng(seed = 0x9e3779b9): () => number {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 2 ** 32
  }
}

/**
 * The process's resident memory in MiB: `anon` (memory it allocated) and `file` (file pages it
 * maps, such as LevelDB's memory-mapped tables, which the kernel can drop) where Linux says
 * (/proc/self/status), else the total alone.
 */
export function residentMemory(): { rss: number; anon?: number; file?: number } {
  const rss = process.memoryUsage().rss / 2 ** 20
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
    return { rss, anon: kib('RssAnon') / 1024, file: kib('RssFile') / 1024 }
  } catch {
    return { rss }
  }
}

/**
 * How long the calling thread has run on a core and waited for one while runnable, in seconds,
 * where Linux says (/proc/thread-self/schedstat, in nanoseconds); undefined elsewhere. Called on
 * the main thread, it splits a process's CPU between the event loop and the threads beside it
 * (the libuv pool, V8's helpers, LevelDB's compaction), and shows how long the event loop was
 * ready to run while those threads, or other processes, held every core.
 */
export function threadSchedule(): { runSeconds: number; waitSeconds: number } | undefined {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number)
    if (!Number.isFinite(run) || !Number.isFinite(wait)) return undefined
    return { runSeconds: run! / 1e9, waitSeconds: wait! / 1e9 }
  } catch {
    return undefined
  }
}

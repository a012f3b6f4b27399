// Reindexing a log while it takes appends: the next generation of its search terms is built
// beside the one searches read and replaces it in one of the log's own batches, so a search
// never sees a generation half built; the time index is rewritten in place, where a node only
// ever holds its entries' true times.
import type { StorageDriver, WriteOp } from '@annal/storage'
import { readUint64, reindexProgressKey, uint64 } from './keys.js'
import type { Log } from './log.js'
import { beginBuild, intendBuild, switchToBuild } from './index-state.js'
import { type EntryIndexer, addTermRows, clearTerms, indexesOf } from './terms.js'
import { TimeRebuild } from './time-index.js'

export interface ReindexOptions {
  /**
   * What the indexer is configured with, kept with the generation (IndexState.config): a
   * reindex in progress with the same config is resumed where it was, another is started over.
   */
  readonly config?: string
  /** Told after each write of rows: entries done, of the `total` the reindex covers. */
  readonly onProgress?: (done: number, total: number) => void
  /** Stops the reindex between writes; what it wrote stays, for the next one to resume. */
  readonly signal?: AbortSignal
}

/** Entries reindexed a write: their rows are held in memory until written. */
const CHUNK = 4096

/**
 * Builds log `log`'s next generation with `indexer` and switches searches to it: intends the
 * build, clears the generation's tag of rows left by an earlier build, begins it (appends write
 * to it too from then on), fills in the entries below where it began, a write at a time with
 * its progress, and switches. Then drops the generation it replaced once no search reads it.
 * @returns the number of entries the reindex covers: the log's size when it began.
 * @throws the reason of `signal` when it is aborted.
 */
export async function reindexLog(driver: StorageDriver, log: Log, indexer: EntryIndexer, options: ReindexOptions): Promise<number> {
  const { signal } = options
  const name = log.info.name
  const replaced = log.indexState.generation
  let build = log.indexState.build
  let done = 0
  if (build?.below !== undefined && build.config === options.config) {
    const progress = await driver.get(reindexProgressKey(name))
    done = progress === undefined ? 0 : readUint64(progress)
  } else {
    const generation = replaced + 1
    await log.changeIndex(intendBuild(generation, options.config))
    // No append writes to the generation until it begins, so what is in its tag now is left over
    // from the generation before the one searches read, which a search may still be reading.
    await log.readersGone(generation - 2, signal)
    await clearTerms(driver, name, generation, signal)
    await driver.write([{ type: 'del', key: reindexProgressKey(name) }], { sync: false })
    build = (await log.changeIndex(beginBuild(generation))).build
  }
  if (build?.below === undefined) throw new Error(`the index build of log ${name} was replaced`)
  const { generation, below } = build
  const time = await TimeRebuild.resume(driver, name, done)
  options.onProgress?.(done, below)
  for (let start = done; start < below; start += CHUNK) {
    signal?.throwIfAborted()
    const entries = await log.entries(start, Math.min(CHUNK, below - start))
    const indexes = await indexesOf(indexer, name, entries.map((entry) => entry.data))
    const ops: WriteOp[] = []
    indexes.forEach(({ terms }, i) => addTermRows(ops, name, generation, terms, start + i))
    ops.push(...time.add(name, indexes.map((entry) => entry.time)))
    ops.push({ type: 'put', key: reindexProgressKey(name), value: uint64(start + entries.length) })
    // Unsynced: the switch's synced write makes these durable before it, and a crash before it resumes from the progress kept.
    await driver.write(ops, { sync: false })
    options.onProgress?.(start + entries.length, below)
  }
  signal?.throwIfAborted()
  await log.changeIndex(switchToBuild(generation))
  try {
    await log.readersGone(replaced, signal)
    await clearTerms(driver, name, replaced, signal)
  } catch (error) {
    // Cut short, the rows are cleared by the next reindex that builds in this generation's tag.
    if (!signal?.aborted) throw error
  }
  return below
}

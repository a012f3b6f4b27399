/**
 * @module
 * The ledger: any number of named, append-only logs in one LevelDB directory, each a Merkle
 * tree kept as C2SP tiles with a signed checkpoint per write, and a content-addressed object
 * store. Appends from many callers are batched into one synced write. Start with
 * `Ledger.open`, `ledger.createLog`, `ledger.log(name).append`, `log.inclusionProof` and
 * `ledger.fsck`.
 * @example
 * import { mkdtemp, rm } from 'node:fs/promises'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { Ledger } from '@annal/store'
 *
 * const directory = await mkdtemp(join(tmpdir(), 'annal-example-'))
 * const ledger = await Ledger.open(directory)
 * try {
 *   await ledger.createLog('audit')                      // a fresh Ed25519 key in keys/, mode 0600
 *   const log = ledger.log('audit')
 *   const { entries, checkpoint } = await log.append([new TextEncoder().encode('{"actor":"alice"}')])
 *   const proof = await log.inclusionProof(entries[0]!.index)
 *   if (checkpoint.size !== 1 || proof.treeSize !== 1) throw new Error('not appended')
 *   if ((await ledger.fsck('audit')).problems.length !== 0) throw new Error('fsck found problems')
 * } finally {
 *   await ledger.close()
 *   await rm(directory, { recursive: true, force: true })
 * }
 */
export { STORE_ERROR_CODES, StoreError, isStoreError } from './errors.js'
export type { StoreErrorCode } from './errors.js'
export { Ledger, MAX_ORIGIN_BYTES, checkOriginPrefix } from './ledger.js'
export type { CreateLogOptions, EraseObjectOptions, LedgerOptions } from './ledger.js'
export type { FsckCounts, FsckOptions, FsckProblem, FsckProblemKind, FsckProgress, FsckReport } from './fsck.js'
export { Log } from './log.js'
export type { AppendResult, AppendedEntry, CheckpointInfo, Entry, EntryRef, InclusionProof, LogInfo } from './log.js'
export { HashedObject, parseObjectHash } from './objects.js'
export type { NewObject, ObjectStore, ObjectErasure, ObjectInfo, PutObjectResult } from './objects.js'
export { DEFAULT_WRITE_BUFFER_BYTES } from '@annal/storage'
export type { SequencerOptions } from './sequencer.js'
export type { LedgerEvent } from './write-watch.js'
export type { WriteHealth } from '@annal/storage'
export type { IdLookupOptions } from './id-lookup.js'
export type { StoredCosignatures } from './cosignatures.js'
export { RowTable, TableRow } from './rows.js'
export type { EntryIndex, EntryIndexer, TermRange } from './terms.js'
export type { IndexBuild, IndexState } from './index-state.js'
export type { ReindexOptions } from './reindex.js'
export type { TimeWindow } from './time-index.js'
export { MAX_TERM_BYTES } from './keys.js'
export { migrateLedger } from './migrate.js'
export type { MigratedLog, Migration } from './migrate.js'

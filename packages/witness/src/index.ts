/**
 * @module
 * A C2SP tlog-witness: it cosigns a log's checkpoint (tlog-cosignature) only if it is
 * consistent with every checkpoint of that log it cosigned before, keeps that state durably,
 * pulls peers' checkpoints (gossip) and the log's tiles to catch a split view, and holds signed
 * evidence when it finds one. Start with `runWitness` (key file, LevelDB, listeners) or
 * `createWitnessApp` over a `Witness`; `decideAddCheckpoint` is the decision alone, pure.
 * @example
 * import { mkdtemp, rm } from 'node:fs/promises'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { generateKeyPair } from '@annal/note'
 * import { runWitness } from '@annal/witness'
 *
 * const data = await mkdtemp(join(tmpdir(), 'annal-example-'))
 * const log = generateKeyPair('example.com/log')
 * const witness = await runWitness({ data, name: 'witness.example/w1', logs: [log.verifierKey] })
 * try {
 *   const answer = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: 'not a request' })
 *   if (answer.status !== 400) throw new Error('a malformed request was not refused')
 * } finally {
 *   await witness.close()
 *   await rm(data, { recursive: true, force: true })
 * }
 */
export { WITNESS_ERROR_CODES, WitnessError, isWitnessError } from './errors.js'
export type { WitnessErrorCode } from './errors.js'
export { decideAddCheckpoint } from './decide.js'
export type { AddCheckpointOutcome, Cosigned, DecideInput, RefusalCode, Refused, WitnessedLog } from './decide.js'
export { originHash } from './state.js'
export { evidenceToJson } from './evidence.js'
export type { Evidence, EvidenceKind } from './evidence.js'
export type { CheckStatus } from './checks.js'
export { Witness } from './witness.js'
export type { ObserveResult, WitnessLogConfig, WitnessLogInfo, WitnessOptions } from './witness.js'
export { SIZE_CONTENT_TYPE, createAdminApp, createWitnessApp } from './app.js'
export type { WitnessAppOptions } from './app.js'
export { WITNESS_PROBLEMS, WitnessRefusal } from './problems.js'
export type { WitnessProblemCode } from './problems.js'
export type { PeerStatus } from './gossip.js'
export { parseListen, runWitness } from './run.js'
export { WitnessMetrics, metricsApp } from './metrics.js'
export type { RunWitnessLog, RunWitnessOptions, RunningWitness } from './run.js'

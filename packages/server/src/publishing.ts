import type { Log } from '@annal/store'
import type { AnnalApp } from './app.js'
import { appWitnessing } from './app.js'
import { ProblemError } from './problem.js'

/** One log's publishing to object storage, as the metrics show it. */
export interface PublishedLog {
  readonly log: string
  /** The size of the checkpoint in the bucket; undefined until one is known. */
  readonly publishedSize: number | undefined
  /** Failed publications since start. */
  readonly failures: number
  /** Failed publications since the last that succeeded. */
  readonly consecutiveFailures: number
}

/** What the metrics read of a publisher to object storage (@annal/publish's Publisher is one). */
export interface PublishingStatus {
  status(): readonly PublishedLog[]
}

/**
 * The checkpoint of `log` that `GET /v1/logs/{log}/checkpoint` serves now, as a publisher
 * should copy it: a witnessed log's newest that meets its policy, with its cosignatures;
 * another log's latest. Undefined while a witnessed log has none that meets its policy.
 */
export async function servedCheckpoint(app: AnnalApp, log: Log): Promise<{ size: number; note: string } | undefined> {
  const witnessing = appWitnessing(app)
  if (witnessing?.policy(log.info.name) === undefined) {
    const { size, note } = log.checkpointInfo
    return { size, note }
  }
  try {
    const { size, note } = await witnessing.served(log, false)
    return { size, note }
  } catch (error) {
    if (error instanceof ProblemError && error.code === 'POLICY_UNMET') return undefined
    throw error
  }
}

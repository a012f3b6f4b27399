import { encodeBase64 } from '@annal/note'
import { verifyLogSignature } from './checkpoint.js'
import { ClientError } from './errors.js'
import type { Fetch } from './log-client.js'
import type { Policy } from './policy.js'
import { verifyEvidence, type SplitViewEvidence } from './split-view.js'

/** How handing one checkpoint to one witness went; see MonitorOptions.onGossip. */
export interface GossipOutcome {
  /** The witness's base URL, as given in MonitorOptions.witnesses. */
  readonly witness: string
  /** The size of the checkpoint handed. */
  readonly size: number
  /**
   * The witness's answer (POST /v1/gossip's `result`): `consistent`, `verified`, `older`,
   * `pending`, `known`, `ignored`, or `evidence` / `frozen` (it holds evidence of a fork of
   * this log); undefined when the request failed.
   */
  readonly result: string | undefined
  /**
   * Why it failed: the witness down, slower than the timeout, refusing, or answering what its
   * API does not say; or, with result `evidence` or `frozen`, no evidence it serves verifies
   * (ClientError EVIDENCE_INVALID). Undefined when it answered and nothing is amiss.
   */
  readonly error: Error | undefined
}

/** What one witness said, with the fork it showed if it holds verified evidence of one. */
interface Told {
  readonly outcome: GossipOutcome
  readonly evidence?: SplitViewEvidence
}

const FORK_RESULTS = new Set(['evidence', 'frozen'])

function invalid(message: string): ClientError {
  return new ClientError('RESPONSE_INVALID', message)
}

/** The JSON object a witness answered with 200. Throws ClientError RESPONSE_INVALID. */
async function jsonOf(response: Response, route: string): Promise<Record<string, unknown>> {
  if (response.status !== 200) {
    await response.body?.cancel()
    throw invalid(`${route} answered ${response.status}`)
  }
  const body: unknown = await response.json().catch(() => undefined)
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${route} answered no JSON object`)
  return body as Record<string, unknown>
}

/**
 * POSTs a trusted checkpoint note to a witness's `/v1/gossip`, within `timeoutMs`. When the
 * witness answers that it holds evidence of a fork of this log, reads its `GET /v1/evidence`
 * and keeps the first that verifyEvidence accepts under `policy`. Never throws: a failure is
 * the outcome's `error`.
 */
export async function tellWitness(fetcher: Fetch, witness: string, checkpoint: { note: string; origin: string; size: number },
    policy: Policy, timeoutMs: number): Promise<Told> {
  const signal = AbortSignal.timeout(timeoutMs)
  const outcome = (result: string | undefined, error: unknown): GossipOutcome =>
    Object.freeze({ witness, size: checkpoint.size, result, error: error === undefined || error instanceof Error ? error : new Error(String(error)) })
  let result: string | undefined
  try {
    const response = await fetcher(`${witness}/v1/gossip`, {
      method: 'POST', body: checkpoint.note, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, signal, redirect: 'error',
    })
    const answer = (await jsonOf(response, 'POST /v1/gossip')).result
    if (typeof answer !== 'string') throw invalid('POST /v1/gossip answered no result')
    result = answer
    if (!FORK_RESULTS.has(result)) return { outcome: outcome(result, undefined) }
    const evidence = await witnessEvidence(fetcher, witness, checkpoint.origin, policy, signal)
    if (evidence === undefined) {
      return { outcome: outcome(result, new ClientError('EVIDENCE_INVALID', `the witness says it holds evidence that the log forked, but none it serves verifies`)) }
    }
    return { outcome: outcome(result, undefined), evidence }
  } catch (error) {
    return { outcome: outcome(result, error) }
  }
}

/** The first evidence for `origin` at the witness's /v1/evidence that verifies under `policy`. */
async function witnessEvidence(fetcher: Fetch, witness: string, origin: string, policy: Policy,
    signal: AbortSignal): Promise<SplitViewEvidence | undefined> {
  const body = await jsonOf(await fetcher(`${witness}/v1/evidence`, { signal, redirect: 'error' }), 'GET /v1/evidence')
  if (!Array.isArray(body.evidence)) throw invalid('GET /v1/evidence answered no evidence list')
  for (const item of body.evidence as unknown[]) {
    const { origin: its, checkpoints, consistency } = (item ?? {}) as Record<string, unknown>
    if (its !== origin || !Array.isArray(checkpoints) || checkpoints.length !== 2) continue
    const notes = checkpoints.map((seen) => ((seen ?? {}) as Record<string, unknown>).note)
    // The witness's root_hash is the larger tree's root at the smaller size, read from its tiles.
    const { root_hash: rootHash, proof = [] } = (consistency ?? {}) as Record<string, unknown>
    if (notes.some((note) => typeof note !== 'string') || !Array.isArray(proof) || proof.some((hash) => typeof hash !== 'string')) continue
    // The witness orders the pair by note text; evidence puts the smaller tree first.
    for (const [old, now] of [[notes[0], notes[1]], [notes[1], notes[0]]] as [string, string][]) {
      try {
        // Two notes of one size need no proof: the newer tree's root there is its own.
        const oldSizeRoot = typeof rootHash === 'string' ? rootHash : encodeBase64(verifyLogSignature(now, policy).checkpoint.rootHash)
        const evidence = { old, new: now, oldSizeRoot, proof: proof as string[] }
        verifyEvidence(evidence, policy)
        return evidence
      } catch {
        // Not this way round, or not evidence at all: a witness's word alone stops nothing.
      }
    }
  }
  return undefined
}

import { problemHeaders, requestBody, type ProblemBody } from '@annal/http'
import { encodeBase64 } from '@annal/note'
import { Hono, type Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { WitnessError } from './errors.js'
import { evidenceToJson } from './evidence.js'
import { healthRoutes } from './health.js'
import type { WitnessMetrics } from './metrics.js'
import { WitnessRefusal, witnessProblem } from './problems.js'
import { MAX_BODY_SIZE, Witness, type WitnessOptions } from './witness.js'

/** tlog-witness §add-checkpoint: the 409 body's media type. */
export const SIZE_CONTENT_TYPE = 'text/x.tlog.size'

const ORIGIN_HASH = /^[0-9a-f]{64}$/

function problem(c: Context, body: ProblemBody): Response {
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, problemHeaders(body))
}

/** How the public app reads request bodies. */
export interface WitnessAppOptions {
  /**
   * Longest a request body may take to arrive, in ms, from when the route starts reading it;
   * slower is 408 BODY_TIMEOUT with Connection: close. Default 20,000, as the server's.
   */
  readonly bodyTimeoutMs?: number
  /** Counts the app's requests and add-checkpoint outcomes there. */
  readonly metrics?: WitnessMetrics
}

/**
 * A tlog-witness HTTP API (Hono), with the submission and monitoring prefixes both empty:
 * - `POST /add-checkpoint`: tlog-witness §add-checkpoint; 200 with the cosignature line once
 *   the new state is durably stored, 409 as `text/x.tlog.size`, other refusals as
 *   application/problem+json with a `code`; bodies over 16 KiB get 413.
 * - `GET /<hex SHA-256 of origin>/checkpoint`: the latest cosigned checkpoint (log signatures
 *   and the witness's cosignature), 404 for an unknown origin or one never cosigned.
 * - `GET /v1/witness`: name, verifier key (type 0x04), logs and their latest checkpoints.
 * - `GET /v1/gossip`: `{"checkpoints": [...]}`, the latest cosigned checkpoint of each origin.
 * - `POST /v1/gossip`: one signed checkpoint note (at most 16 KiB), compared with what the
 *   witness holds; 200 `{"result": ObserveResult}`, 400/403/404/413 problems otherwise.
 * - `GET /v1/evidence`: `{"evidence": [...]}`, the split-view evidence held.
 * - `GET /healthz` (the process serves) and `GET /readyz` (it can store what it cosigns; 503 with
 *   `reasons` when not).
 * A body slower than `bodyTimeoutMs` is 408 BODY_TIMEOUT. Takes a Witness or its options; throws
 * RangeError or KEY_MALFORMED for a bad configuration.
 */
export function createWitnessApp(options: WitnessOptions | Witness, appOptions: WitnessAppOptions = {}): Hono {
  const bodyTimeoutMs = appOptions.bodyTimeoutMs ?? 20_000
  if (!Number.isSafeInteger(bodyTimeoutMs) || bodyTimeoutMs < 1) throw new RangeError('bodyTimeoutMs must be a positive integer')
  const witness = options instanceof Witness ? options : new Witness(options)
  const app = new Hono()
  if (appOptions.metrics !== undefined) app.use('*', appOptions.metrics.middleware)
  const readBody = (c: Context) => requestBody(c, MAX_BODY_SIZE, { timeoutMs: bodyTimeoutMs })
  healthRoutes(app, witness)

  app.post('/add-checkpoint', async (c) => {
    const outcome = await witness.addCheckpoint(await readBody(c))
    if (outcome.status === 200) return c.text(outcome.body, 200)
    if (outcome.status === 409) {
      return c.body(`${outcome.size}\n`, 409, { 'Content-Type': SIZE_CONTENT_TYPE })
    }
    throw new WitnessRefusal(outcome)
  })
  app.all('/add-checkpoint', (c) => c.body(null, 405, { Allow: 'POST' }))

  app.get('/:hash/checkpoint', async (c) => {
    const hash = c.req.param('hash')
    const origin = ORIGIN_HASH.test(hash) ? witness.originForHash(hash) : undefined
    const latest = origin === undefined ? undefined : await witness.latest(origin)
    if (latest === undefined) throw new WitnessError('LOG_NOT_FOUND', 'no cosigned checkpoint for this origin hash')
    return c.text(latest.note, 200)
  })

  app.get('/v1/witness', async (c) => {
    const logs = (await witness.logs()).map((log) => ({
      origin: log.origin,
      origin_hash: log.originHash,
      verifier_keys: log.verifierKeys,
      checkpoint: log.latest === undefined ? null : {
        size: log.latest.size,
        root_hash: encodeBase64(log.latest.rootHash),
        note: log.latest.note,
      },
    }))
    return c.json({ name: witness.name, verifier_key: witness.verifierKey, logs })
  })

  app.get('/v1/gossip', async (c) => {
    const checkpoints = (await witness.logs()).flatMap((log) => (log.latest === undefined ? [] : [log.latest.note]))
    return c.json({ checkpoints })
  })

  app.post('/v1/gossip', async (c) => {
    const result = await witness.observe(await readBody(c), `submitted ${remoteAddress(c)}`)
    return c.json({ result })
  })

  app.get('/v1/evidence', async (c) => c.json({ evidence: (await witness.evidence()).map(evidenceToJson) }))

  return handleErrors(app)
}

/** The peer address Hono's node server saw, for evidence records; 'unknown' elsewhere. */
function remoteAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress ?? 'unknown'
}

/**
 * The operator's routes, to be served on a loopback-only listener (runWitness's `admin`):
 * `DELETE /v1/evidence/<origin hash>` clears an origin's evidence (Witness.clearEvidence),
 * 204; 404 when the origin is unknown or holds no evidence.
 */
export function createAdminApp(witness: Witness): Hono {
  const app = new Hono()
  app.delete('/v1/evidence/:hash', async (c) => {
    const hash = c.req.param('hash')
    const origin = ORIGIN_HASH.test(hash) ? witness.originForHash(hash) : undefined
    if (origin === undefined) throw new WitnessError('LOG_NOT_FOUND', 'unknown origin hash')
    if (!(await witness.clearEvidence(origin))) throw new WitnessError('LOG_NOT_FOUND', 'no evidence held for this origin')
    return c.body(null, 204)
  })
  app.get('/v1/evidence', async (c) => c.json({ evidence: (await witness.evidence()).map(evidenceToJson) }))
  return handleErrors(app)
}

function handleErrors(app: Hono): Hono {
  app.notFound((c) => problem(c, witnessProblem(new WitnessError('ROUTE_NOT_FOUND', 'no such route'))))
  app.onError((error, c) => problem(c, witnessProblem(error)))
  return app
}

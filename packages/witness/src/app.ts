import { TlogError, type TlogErrorCode } from '@annal/tlog'
import { Hono, type Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Refused } from './decide.js'
import { encodeHash } from './internal/base64.js'
import { readBody } from './internal/body.js'
import { MAX_BODY_SIZE } from './request.js'
import { Witness, type WitnessOptions } from './witness.js'

/** tlog-witness §add-checkpoint: the 409 body's media type. */
export const SIZE_CONTENT_TYPE = 'text/x.tlog.size'

/** A refusal decided by decideAddCheckpoint, thrown so that onError answers it. */
export class WitnessRefusal extends TlogError {
  readonly status: Refused['status']

  constructor(refused: Refused) {
    super(refused.code, refused.message)
    this.status = refused.status
  }
}

/** Statuses for errors thrown outside the decision: body parsing, storage. */
const STATUSES: Partial<Record<TlogErrorCode, ContentfulStatusCode>> = {
  BODY_TOO_LARGE: 413,
  BODY_MALFORMED: 400,
  SIZE_OUT_OF_RANGE: 400,
  NOTE_MALFORMED: 400,
  CHECKPOINT_MALFORMED: 400,
  LOG_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  HEAD_CONFLICT: 503,
  DATABASE_CLOSED: 503,
  DATABASE_LOCKED: 503,
}

const ORIGIN_HASH = /^[0-9a-f]{64}$/

function problem(c: Context, status: ContentfulStatusCode, code: TlogErrorCode | undefined,
    detail: string): Response {
  return c.body(JSON.stringify({ type: 'about:blank', status, code, detail }), status,
    { 'Content-Type': 'application/problem+json' })
}

/**
 * A tlog-witness HTTP API (Hono), with the submission and monitoring prefixes both empty:
 * - `POST /add-checkpoint`: tlog-witness §add-checkpoint; 200 with the cosignature line once
 *   the new state is durably stored, 409 as `text/x.tlog.size`, other refusals as
 *   application/problem+json with a `code`; bodies over 16 KiB get 413.
 * - `GET /<hex SHA-256 of origin>/checkpoint`: the latest cosigned checkpoint (log signatures
 *   and the witness's cosignature), 404 for an unknown origin or one never cosigned.
 * - `GET /v1/witness`: name, verifier key (type 0x04), logs and their latest checkpoints.
 * Takes a Witness or its options; throws RangeError or KEY_MALFORMED for a bad configuration.
 */
export function createWitnessApp(options: WitnessOptions | Witness): Hono {
  const witness = options instanceof Witness ? options : new Witness(options)
  const app = new Hono()

  app.post('/add-checkpoint', async (c) => {
    const outcome = await witness.addCheckpoint(await readBody(c.req.raw, MAX_BODY_SIZE))
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
    if (latest === undefined) throw new TlogError('LOG_NOT_FOUND', 'no cosigned checkpoint for this origin hash')
    return c.text(latest.note, 200)
  })

  app.get('/v1/witness', async (c) => {
    const logs = (await witness.logs()).map((log) => ({
      origin: log.origin,
      origin_hash: log.originHash,
      verifier_keys: log.verifierKeys,
      checkpoint: log.latest === undefined ? null : {
        size: log.latest.size,
        root_hash: encodeHash(log.latest.rootHash),
        note: log.latest.note,
      },
    }))
    return c.json({ name: witness.name, verifier_key: witness.verifierKey, logs })
  })

  app.notFound((c) => problem(c, 404, 'ROUTE_NOT_FOUND', 'no such route'))
  app.onError((error, c) => {
    if (error instanceof WitnessRefusal) return problem(c, error.status, error.code, error.message)
    if (error instanceof TlogError) return problem(c, STATUSES[error.code] ?? 500, error.code, error.message)
    return problem(c, 500, undefined, 'internal error')
  })
  return app
}

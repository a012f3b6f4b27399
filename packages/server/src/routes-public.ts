import { TILE_WIDTH, TlogError, bytesToHex, isTlogError, parseTilePath } from '@annal/tlog'
import type { Log } from '@annal/store'
import type { Hono } from 'hono'
import type { LogWitnessing } from './witness-health.js'
import { type AppEnv, type Services, allowPublic, authorize, grants } from './context.js'
import { countParam, hashParam } from './params.js'
import { ACCESS_LOG, SCOPES, isServerLog } from './scopes.js'
import { ApiError } from './errors.js'

const IMMUTABLE = 'max-age=31536000, immutable'
const SHORT_LIVED = 'max-age=10'

/** Routes anyone may call: logs, checkpoints, proofs, hash tiles, metadata, health. */
export function publicRoutes(app: Hono<AppEnv>, services: Services): void {
  const { ledger, verifier } = services

  app.get('/healthz', (c) => {
    allowPublic(c)
    return c.json({ status: 'ok' })
  })

  // Where the challenges point: for a resource with a path, RFC 9728 puts the path after the
  // well-known one (`/.well-known/oauth-protected-resource/api` for `https://host/api`).
  app.get(new URL(services.metadataUrl).pathname, (c) => {
    allowPublic(c)
    return c.json({
      resource: verifier.options.audience,
      authorization_servers: [...(verifier.options.authorizationServers ?? [verifier.options.issuer])],
      scopes_supported: [...SCOPES],
      bearer_methods_supported: ['header'],
      resource_name: 'Annal',
    })
  })

  app.get('/v1/logs', (c) => {
    allowPublic(c)
    // The access log is listed with its key, so that anyone can check what an auditor shows
    // them, but its size (how many requests the server took) only to a caller who may read it.
    const auditor = grants(c, 'audit:read', ACCESS_LOG)
    const logs = ledger.logs().map((info) => ({
      name: info.name, origin: info.origin, verifier_key: info.verifierKey,
      ...(!isServerLog(info.name) || auditor ? { size: ledger.log(info.name).size } : {}),
    }))
    return c.json({ logs })
  })

  app.get('/v1/logs/:log', async (c) => {
    const name = c.req.param('log')
    allowPublic(c, name)
    return c.json(await logJson(services, ledger.log(name)))
  })

  app.get('/v1/logs/:log/checkpoint', async (c) => {
    const name = c.req.param('log')
    allowPublic(c, name)
    const log = ledger.log(name)
    const { witnessing } = services
    const headers = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' }
    if (witnessing?.policy(name) === undefined) return c.body(await log.checkpoint(), 200, headers)
    const latest = c.req.query('latest')
    if (latest !== undefined && latest !== '1') throw new ApiError('REQUEST_MALFORMED', 'latest must be 1')
    const served = await witnessing!.served(log, latest === '1')
    const policy = !served.policyMet ? 'unmet' : served.size < served.latestSize ? 'unmet-for-latest' : 'met'
    return c.body(served.note, 200, { ...headers, 'Annal-Policy': policy, 'Annal-Latest-Size': String(served.latestSize) })
  })

  app.get('/v1/logs/:log/proof/inclusion', async (c) => {
    const name = c.req.param('log')
    allowPublic(c, name)
    const log = ledger.log(name)
    const index = c.req.query('index')
    const leafHash = c.req.query('leaf_hash')
    if (index !== undefined && leafHash !== undefined) throw new ApiError('REQUEST_MALFORMED', 'give index or leaf_hash, not both')
    if (index === undefined && leafHash === undefined) throw new ApiError('REQUEST_MALFORMED', 'give index or leaf_hash')
    const treeSize = countParam(c.req.query('tree_size'), 'tree_size', log.size)
    const ref = index !== undefined ? countParam(index, 'index') : hashParam(leafHash!, 'leaf_hash')
    const proof = await log.inclusionProof(ref, treeSize)
    return c.json({ index: proof.index, tree_size: proof.treeSize, leaf_hash: bytesToHex(proof.leafHash), proof: proof.proof.map(bytesToHex) })
  })

  app.get('/v1/logs/:log/proof/consistency', async (c) => {
    const name = c.req.param('log')
    allowPublic(c, name)
    const log = ledger.log(name)
    const from = countParam(c.req.query('from'), 'from')
    const to = countParam(c.req.query('to'), 'to', log.size)
    const proof = await log.consistencyProof(from, to)
    return c.json({ from, to, proof: proof.map(bytesToHex) })
  })

  // C2SP tlog-tiles under /v1/logs/{log}/: hash tiles are public, entry bundles need log:read.
  app.get('/v1/logs/:log/tile/*', async (c) => {
    const name = c.req.param('log')
    const path = c.req.path.slice(`/v1/logs/${name}/`.length)
    let tile: ReturnType<typeof parseTilePath>
    try {
      tile = parseTilePath(path)
    } catch (error) {
      allowPublic(c, name)
      throw error
    }
    if (tile.kind === 'entries') authorize(c, 'log:read', name)
    else allowPublic(c, name)
    const log = ledger.log(name)
    try {
      const bytes = tile.kind === 'entries' ? await log.entryBundle(tile.index, tile.width)
        : await log.hashTile(tile.level, tile.index, tile.width)
      // A tile that took a token (an entry bundle, any tile of the access log) is `private`: a
      // shared cache may keep a response to a request with credentials when it is marked
      // `public` (RFC 9111, section 3.5), and would then hand it to anyone.
      const audience = c.get('protectedRoute') === true ? 'private' : 'public'
      const cache = `${audience}, ${tile.width === TILE_WIDTH ? IMMUTABLE : SHORT_LIVED}`
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream', 'Cache-Control': cache })
    } catch (error) {
      if (isTlogError(error, 'SIZE_OUT_OF_RANGE')) throw new TlogError('TILE_NOT_FOUND', 'the log does not hold that tile yet', { cause: error })
      throw error
    }
  })
}

/** A log as `GET /v1/logs/{log}` answers it (docs/api.md). */
export async function logJson(services: Services, log: Log): Promise<Record<string, unknown>> {
  const { size, root } = log.checkpointInfo
  const witnessing = await services.witnessing?.health(log)
  return {
    name: log.info.name, origin: log.info.origin, verifier_key: log.info.verifierKey, size, root,
    witnessing: witnessing === undefined ? null : witnessingJson(witnessing),
  }
}

/** A log's witnessing as `GET /v1/logs/{log}` answers it (docs/api.md). */
function witnessingJson(witnessing: LogWitnessing): Record<string, unknown> {
  const time = (date: Date | undefined) => date?.toISOString() ?? null
  return {
    k: witnessing.k,
    policy_met_size: witnessing.policyMetSize ?? null,
    witnesses: witnessing.witnesses.map((witness) => ({
      name: witness.name, configured: witness.configured, verifier_key: witness.verifierKey ?? null, cosigned_size: witness.cosignedSize ?? null,
      failures: witness.failures, last_error: witness.lastError ?? null, last_error_at: time(witness.lastErrorAt),
      failing_since: time(witness.failingSince),
    })),
  }
}

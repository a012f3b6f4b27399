import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { TILE_WIDTH, hexToBytes, verifyConsistency, verifyInclusion } from '@annal/tlog'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Harness, bearer, harness, expectProblem } from './testing/fixture.js'

const utf8 = new TextEncoder()
let h: Harness

beforeEach(async () => {
  h = await harness()
  await h.ledger.createLog('audit')
})
afterEach(async () => h.close())

async function fill(count: number): Promise<void> {
  const log = h.ledger.log('audit')
  const from = log.size
  await log.append(Array.from({ length: count }, (_, i) => utf8.encode(`event ${from + i}`)))
}

describe('public endpoints', () => {
  it('lists logs and describes one', async () => {
    await fill(3)
    const list = await (await h.app.request('/v1/logs')).json() as { logs: { name: string; size: number; verifier_key: string; origin: string }[] }
    expect(list.logs.map((log) => log.name).sort()).toEqual(['access', 'alerts', 'audit'])
    const audit = list.logs.find((log) => log.name === 'audit')!
    expect(audit).toMatchObject({ size: 3, origin: 'annal.test/audit', verifier_key: h.ledger.log('audit').info.verifierKey })
    // The access log's key is public, its size (the server's request count) is for auditors.
    const access = list.logs.find((log) => log.name === 'access')!
    expect(access).toEqual({ name: 'access', origin: 'annal.test/access', verifier_key: h.ledger.log('access').info.verifierKey })
    for (const [scope, listed] of [['log:read', false], ['audit:read', true]] as const) {
      const token = await h.mint.token({ scope })
      const seen = await (await h.app.request('/v1/logs', { headers: bearer(token) })).json() as typeof list
      expect(seen.logs.find((log) => log.name === 'access')!.size !== undefined).toBe(listed)
    }
    const one = await h.app.request('/v1/logs/audit')
    expect(await one.json()).toMatchObject({ name: 'audit', size: 3, root: h.ledger.log('audit').checkpointInfo.root })
    await expectProblem(await h.app.request('/v1/logs/nope'), 404, 'LOG_NOT_FOUND')
  })

  it('serves the checkpoint note byte for byte, and it opens with the verifier key', async () => {
    await fill(5)
    const response = await h.app.request('/v1/logs/audit/checkpoint')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    const text = await response.text()
    expect(text).toBe(h.ledger.log('audit').checkpointInfo.note)
    const checkpoint = openCheckpoint(text, [parseVerifierKey(h.ledger.log('audit').info.verifierKey)])
    expect(checkpoint.size).toBe(5)
  })

  it('serves inclusion proofs by index and by leaf hash that verify, at the latest or a given size', async () => {
    const log = h.ledger.log('audit')
    const verifier = parseVerifierKey(log.info.verifierKey)
    const rootAt = async (size: number) => openCheckpoint(await log.checkpoint(size), [verifier]).rootHash
    await fill(7)
    await fill(3)
    const [root7, root10] = [await rootAt(7), await rootAt(10)]
    const byIndex = await (await h.app.request('/v1/logs/audit/proof/inclusion?index=3')).json() as Record<string, any>
    expect(byIndex).toMatchObject({ index: 3, tree_size: 10 })
    verifyInclusion(3, 10, hexToBytes(byIndex.leaf_hash), byIndex.proof.map(hexToBytes), root10)
    const byHash = await (await h.app.request(`/v1/logs/audit/proof/inclusion?leaf_hash=${byIndex.leaf_hash}&tree_size=7`)).json() as Record<string, any>
    expect(byHash).toMatchObject({ index: 3, tree_size: 7, leaf_hash: byIndex.leaf_hash })
    verifyInclusion(3, 7, hexToBytes(byIndex.leaf_hash), byHash.proof.map(hexToBytes), root7)
    await log.append([utf8.encode('later')])
    const latest = await (await h.app.request(`/v1/logs/audit/proof/inclusion?leaf_hash=${byIndex.leaf_hash}`)).json() as Record<string, any>
    expect(latest).toMatchObject({ index: 3, tree_size: 11 })
    verifyInclusion(3, 11, hexToBytes(byIndex.leaf_hash), latest.proof.map(hexToBytes), await rootAt(11))
    const old = await (await h.app.request('/v1/logs/audit/proof/inclusion?index=3&tree_size=10')).json() as Record<string, any>
    expect(old.proof).toEqual(byIndex.proof)
  })

  it('serves consistency proofs that verify', async () => {
    await fill(4)
    const log = h.ledger.log('audit')
    const root4 = hexToBytes(log.checkpointInfo.root)
    await fill(9)
    expect(log.size).toBe(13)
    const body = await (await h.app.request('/v1/logs/audit/proof/consistency?from=4')).json() as Record<string, any>
    expect(body).toMatchObject({ from: 4, to: 13 })
    verifyConsistency(4, 13, body.proof.map(hexToBytes), root4, hexToBytes(log.checkpointInfo.root))
    const explicit = await (await h.app.request('/v1/logs/audit/proof/consistency?from=4&to=13')).json()
    expect(explicit).toEqual(body)
  })

  it('refuses malformed and out-of-range proof parameters with 400', async () => {
    await fill(3)
    for (const query of ['index=01', 'index=-1', 'index=1.0', 'index= 1', 'index=', 'index=1&leaf_hash=' + '0'.repeat(64), '', 'tree_size=2']) {
      await expectProblem(await h.app.request(`/v1/logs/audit/proof/inclusion?${query}`), 400, 'REQUEST_MALFORMED')
    }
    const both = await expectProblem(await h.app.request(`/v1/logs/audit/proof/inclusion?index=1&leaf_hash=${'0'.repeat(64)}`), 400, 'REQUEST_MALFORMED')
    expect(both.detail).toBe('give index or leaf_hash, not both')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/inclusion?index=3'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/inclusion?index=2&tree_size=2'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/inclusion?index=0&tree_size=4'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/inclusion?index=99999999999999999'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request(`/v1/logs/audit/proof/inclusion?leaf_hash=${'A'.repeat(64)}`), 400, 'HASH_MALFORMED')
    await expectProblem(await h.app.request(`/v1/logs/audit/proof/inclusion?leaf_hash=${'ab'.repeat(16)}`), 400, 'HASH_MALFORMED')
    await expectProblem(await h.app.request(`/v1/logs/audit/proof/inclusion?leaf_hash=${'ab'.repeat(32)}`), 404, 'ENTRY_NOT_FOUND')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/consistency?from=2&to=1'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/consistency?from=1&to=4'), 400, 'SIZE_OUT_OF_RANGE')
    await expectProblem(await h.app.request('/v1/logs/audit/proof/consistency'), 400, 'REQUEST_MALFORMED')
  })

  it('serves C2SP hash tiles: full ones immutable, partial ones short-lived', async () => {
    await fill(TILE_WIDTH + 3)
    const log = h.ledger.log('audit')
    const full = await h.app.request('/v1/logs/audit/tile/0/000')
    expect(full.status).toBe(200)
    expect(full.headers.get('content-type')).toBe('application/octet-stream')
    expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const bytes = new Uint8Array(await full.arrayBuffer())
    expect(bytes).toEqual(await log.hashTile(0, 0, TILE_WIDTH))
    expect(bytes.length).toBe(32 * TILE_WIDTH)
    const partial = await h.app.request('/v1/logs/audit/tile/0/001.p/3')
    expect(partial.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/)
    expect(new Uint8Array(await partial.arrayBuffer())).toEqual(await log.hashTile(0, 1, 3))
    const level1 = await h.app.request('/v1/logs/audit/tile/1/000.p/1')
    expect(level1.status).toBe(200)
    await expectProblem(await h.app.request('/v1/logs/audit/tile/0/001.p/4'), 404, 'TILE_NOT_FOUND')
    await expectProblem(await h.app.request('/v1/logs/audit/tile/0/001'), 404, 'TILE_NOT_FOUND')
    for (const path of ['tile/0/1', 'tile/0/x000/001', 'tile/0/000.p/0', 'tile/0/000.p/256', 'tile/00/000', 'tile/x/000']) {
      await expectProblem(await h.app.request(`/v1/logs/audit/${path}`), 400, 'TILE_PATH_MALFORMED')
    }
  })

  it('keeps entry bundles behind log:read', async () => {
    await fill(3)
    const denied = await h.app.request('/v1/logs/audit/tile/entries/000.p/3')
    expect(denied.status).toBe(401)
    const token = await h.mint.token({ scope: 'log:read' })
    const bundle = await h.app.request('/v1/logs/audit/tile/entries/000.p/3', { headers: bearer(token) })
    expect(bundle.status).toBe(200)
    expect(new Uint8Array(await bundle.arrayBuffer())).toEqual(await h.ledger.log('audit').entryBundle(0, 3))
    // Never `public`: a shared cache could then serve a response that took a token to anyone.
    expect(bundle.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/)
    await fill(TILE_WIDTH)
    const full = await h.app.request('/v1/logs/audit/tile/entries/000', { headers: bearer(token) })
    expect(full.status).toBe(200)
    expect(full.headers.get('cache-control')).toBe('private, max-age=31536000, immutable')
  })

  it('keeps everything under /v1/logs/access behind audit:read', async () => {
    for (const path of ['', '/checkpoint', '/proof/consistency?from=0', '/tile/0/000.p/1']) {
      const response = await h.app.request(`/v1/logs/access${path}`)
      expect(response.status).toBe(401)
    }
    const reader = await h.mint.token({ scope: 'log:read' })
    expect((await h.app.request('/v1/logs/access/checkpoint', { headers: bearer(reader) })).status).toBe(403)
    const auditor = await h.mint.token({ scope: 'audit:read' })
    expect((await h.app.request('/v1/logs/access/checkpoint', { headers: bearer(auditor) })).status).toBe(200)
  })

  it('publishes RFC 9728 metadata and health', async () => {
    const metadata = await (await h.app.request('/.well-known/oauth-protected-resource')).json()
    expect(metadata).toEqual({
      resource: 'https://annal.test/', authorization_servers: ['https://issuer.test'],
      scopes_supported: ['log:read', 'log:append', 'log:admin', 'audit:read'], bearer_methods_supported: ['header'], resource_name: 'Annal',
    })
    expect(await (await h.app.request('/healthz')).json()).toEqual({ status: 'ok' })
  })

  it('publishes the metadata of a resource with a path where its challenges point', async () => {
    const api = await harness({ auth: { audience: 'https://annal.test/api/' } })
    try {
      const challenge = (await api.app.request('/v1/logs/audit/entries')).headers.get('www-authenticate')
      expect(challenge).toContain('resource_metadata="https://annal.test/.well-known/oauth-protected-resource/api"')
      const response = await api.app.request('/.well-known/oauth-protected-resource/api')
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ resource: 'https://annal.test/api/' })
      // The root location describes the host's own resource, which this server is not.
      expect((await api.app.request('/.well-known/oauth-protected-resource')).status).toBe(404)
    } finally {
      await api.close()
    }
  })

  it('answers unknown routes with a problem and a request id', async () => {
    const response = await h.app.request('/v2/nothing')
    await expectProblem(response, 404, 'ROUTE_NOT_FOUND')
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    expect(response.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

// Annal behind a real OAuth 2.0 authorization server: oidc-provider issues RFC 9068 JWT access
// tokens through the client_credentials grant for Annal's resource indicator (RFC 8707), and
// Annal fetches its keys from the provider's jwks_uri. Everything stays on the loopback.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from './app.js'
import { type RunningServer, serve } from './serve.js'
import { accessRecords, bearer } from './testing/fixture.js'
import { OidcServer } from './testing/oidc.js'

const AUDIENCE = 'https://annal.oidc.test/'
const INGEST = { id: 'ingest-service', secret: 'ingest-secret-0123456789abcdef', scope: 'log:read log:append' }
const AUDITOR = { id: 'auditor', secret: 'auditor-secret-0123456789abcdef', scope: 'audit:read' }
let directory: string
let ledger: Ledger
let oidc: OidcServer
let server: RunningServer

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-server-oidc-'))
  ledger = await Ledger.open(directory, { originPrefix: 'annal.oidc.test' })
  await ledger.createLog('audit')
  oidc = await OidcServer.start(AUDIENCE, [INGEST, AUDITOR])
  const app = await createApp({ ledger, auth: { issuer: oidc.issuer, audience: AUDIENCE, jwksUrl: oidc.jwksUri } })
  server = await serve(app)
})

afterAll(async () => {
  await server?.close()
  await oidc?.close()
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

async function append(token: string, event: unknown): Promise<Response> {
  return fetch(`${server.url}/v1/logs/audit/entries`, {
    method: 'POST', body: JSON.stringify(event), headers: { ...bearer(token), 'Content-Type': 'application/json' },
  })
}

async function list(token: string): Promise<Response> {
  return fetch(`${server.url}/v1/logs/audit/entries?start=0&limit=100`, { headers: bearer(token) })
}

function recordOf(records: readonly Record<string, any>[], response: Response): Record<string, any> | undefined {
  return records.find((record) => record.request_id === response.headers.get('x-request-id'))
}

describe('with tokens from oidc-provider (client_credentials, RFC 8707, RFC 9068)', () => {
  it('issues ES256 at+jwt access tokens for this resource, signed with a key at its jwks_uri', async () => {
    const response = await oidc.requestToken(INGEST.id, { scope: 'log:append', resource: AUDIENCE })
    expect(response.status).toBe(200)
    const body = await response.json() as { access_token: string; token_type: string; scope: string; expires_in: number }
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'log:append' })
    expect(decodeProtectedHeader(body.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: 'oidc-es256' })
    expect(decodeJwt(body.access_token)).toMatchObject({
      iss: oidc.issuer, aud: AUDIENCE, sub: INGEST.id, client_id: INGEST.id, scope: 'log:append', jti: expect.any(String),
    })
    const jwks = await (await fetch(oidc.jwksUri)).json() as { keys: Record<string, unknown>[] }
    expect(jwks.keys).toEqual([expect.objectContaining({ kid: 'oidc-es256', kty: 'EC', crv: 'P-256' })])
    expect(jwks.keys[0]).not.toHaveProperty('d')
  })

  it('enforces the token\'s scopes and records both requests with its client_id and jti', async () => {
    const appendToken = await oidc.token(INGEST.id, { scope: 'log:append', resource: AUDIENCE })
    const readToken = await oidc.token(INGEST.id, { scope: 'log:read', resource: AUDIENCE })
    const appended = await append(appendToken, { action: 'rotate-key', by: 'ingest-service' })
    expect(appended.status).toBe(201)
    const { index } = await appended.json() as { index: number }

    const refused = await list(appendToken)
    expect(refused.status).toBe(403)
    expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope", scope="log:read:audit"/)
    expect(await refused.json()).toMatchObject({ code: 'INSUFFICIENT_SCOPE' })

    const read = await list(readToken)
    expect(read.status).toBe(200)
    const { entries } = await read.json() as { entries: { index: number; payload: unknown }[] }
    expect(entries.find((entry) => entry.index === index)?.payload).toEqual({ action: 'rotate-key', by: 'ingest-service' })
    expect((await append(readToken, { not: 'allowed' })).status).toBe(403)

    const records = await accessRecords(ledger)
    const actor = { iss: oidc.issuer, sub: INGEST.id, client_id: INGEST.id }
    expect(recordOf(records, appended)).toMatchObject({
      status: 201, required_scope: 'log:append:audit', authorized_by: 'log:append', scopes: ['log:append'],
      actor, token: { jti: decodeJwt(appendToken).jti },
    })
    expect(recordOf(records, refused)).toMatchObject({
      status: 403, code: 'INSUFFICIENT_SCOPE', required_scope: 'log:read:audit', actor, token: { jti: decodeJwt(appendToken).jti },
    })
    expect(recordOf(records, read)).toMatchObject({
      status: 200, authorized_by: 'log:read', scopes: ['log:read'], actor, token: { jti: decodeJwt(readToken).jti },
    })
    expect(JSON.stringify(records)).not.toContain(appendToken)
  })

  it('gets only the scopes the authorization server grants the client', async () => {
    const response = await oidc.requestToken(INGEST.id, { scope: 'log:append log:admin audit:read', resource: AUDIENCE })
    expect(await response.json()).toMatchObject({ scope: 'log:append' })
    const auditorToken = await oidc.token(AUDITOR.id, { scope: 'audit:read log:append', resource: AUDIENCE })
    expect(decodeJwt(auditorToken).scope).toBe('audit:read')
    expect((await append(auditorToken, { x: 1 })).status).toBe(403)
    const audit = await fetch(`${server.url}/v1/logs/access/entries?start=0&limit=1`, { headers: bearer(auditorToken) })
    expect(audit.status).toBe(200)
  })

  it('refuses what the authorization server refuses, and opaque tokens', async () => {
    const otherResource = await oidc.requestToken(INGEST.id, { scope: 'log:append', resource: 'https://elsewhere.test/' })
    expect(otherResource.status).toBe(400)
    expect(await otherResource.json()).toMatchObject({ error: 'invalid_target' })
    const badSecret = await oidc.requestToken(INGEST.id, { scope: 'log:append', resource: AUDIENCE }, 'wrong-secret')
    expect(badSecret.status).toBe(401)
    expect(await badSecret.json()).toMatchObject({ error: 'invalid_client' })
    // Without a resource indicator the provider issues an opaque token, which is no JWT for Annal.
    const opaque = await oidc.token(INGEST.id, { scope: 'log:append' })
    expect(opaque.split('.')).toHaveLength(1)
    const refused = await append(opaque, { x: 1 })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
  })
})

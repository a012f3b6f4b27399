import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isApiError } from './errors.js'
import { fetchIssuerKeys } from './issuer-keys.js'
import { jwksOf, signingKey } from './testing/fixture.js'

const ALGORITHMS = ['RS256', 'ES256']

/** Paths this server answers, each with a status and a body; others are 404. */
const routes = new Map<string, { status: number; body: string }>()
let server: Server
let base: string

beforeAll(async () => {
  server = createServer((request, response) => {
    const route = routes.get(request.url ?? '')
    response.writeHead(route?.status ?? 404, { 'Content-Type': 'application/json' }).end(route?.body ?? '')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

function serveJson(path: string, value: unknown, status = 200): void {
  routes.set(path, { status, body: typeof value === 'string' ? value : JSON.stringify(value) })
}

/** Resolves with the message of the AUTH_UNAVAILABLE error `work` rejects with. */
async function refusal(work: Promise<unknown>): Promise<string> {
  const error = await work.then(() => undefined, (caught: unknown) => caught)
  expect(isApiError(error, 'AUTH_UNAVAILABLE'), String(error)).toBe(true)
  return (error as Error).message
}

describe('fetchIssuerKeys', () => {
  it('discovers the JWKS from <issuer>/.well-known/openid-configuration, and counts the usable keys', async () => {
    const issuer = `${base}/realms/demo`
    const keys = jwksOf(...await Promise.all([signingKey('RS256'), signingKey('ES256'), signingKey('EdDSA')]))
    serveJson('/realms/demo/.well-known/openid-configuration', { issuer, jwks_uri: `${base}/realms/demo/certs` })
    serveJson('/realms/demo/certs', { keys: [...keys.keys, { ...keys.keys[0], use: 'enc' }] })
    expect(await fetchIssuerKeys({ issuer, algorithms: ALGORITHMS })).toEqual({ jwksUrl: `${base}/realms/demo/certs`, usableKeys: 2 })
    // An issuer with a trailing slash, as Auth0 names itself.
    serveJson('/.well-known/openid-configuration', { issuer: `${base}/`, jwks_uri: `${base}/realms/demo/certs` })
    expect(await fetchIssuerKeys({ issuer: `${base}/`, algorithms: ALGORITHMS })).toMatchObject({ usableKeys: 2 })
  })

  it('fetches a given JWKS URL without discovery', async () => {
    serveJson('/given.json', jwksOf(await signingKey('ES256')))
    expect(await fetchIssuerKeys({ issuer: 'urn:no-discovery', jwksUrl: `${base}/given.json`, algorithms: ALGORITHMS }))
      .toEqual({ jwksUrl: `${base}/given.json`, usableKeys: 1 })
  })

  it('says which URL failed and how: 404, not JSON, no keys, none usable, unreachable', async () => {
    const at = (path: string) => fetchIssuerKeys({ issuer: 'urn:x', jwksUrl: `${base}${path}`, algorithms: ALGORITHMS })
    expect(await refusal(at('/missing.json'))).toBe(`cannot fetch the JWKS at ${base}/missing.json: it answered HTTP 404`)
    serveJson('/html', '<html>')
    expect(await refusal(at('/html'))).toBe(`the JWKS at ${base}/html is not JSON`)
    serveJson('/not-a-set', { kty: 'EC' })
    expect(await refusal(at('/not-a-set'))).toBe(`the JWKS at ${base}/not-a-set is not a JSON Web Key Set: it has no "keys" list`)
    serveJson('/empty', { keys: [] })
    expect(await refusal(at('/empty'))).toBe(`the JWKS at ${base}/empty holds no usable public signing key for RS256, ES256 (of 0 keys)`)
    const { publicJwk } = await signingKey('EdDSA')
    serveJson('/unusable', { keys: [publicJwk, { ...publicJwk, alg: 'ES256', use: 'enc' }, { ...publicJwk, alg: 'ES256', d: 'AAAA' }, { kty: 'oct', k: 'AAAA' }] })
    expect(await refusal(at('/unusable'))).toBe(`the JWKS at ${base}/unusable holds no usable public signing key for RS256, ES256 (of 4 keys)`)

    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    expect(await refusal(fetchIssuerKeys({ issuer: 'urn:x', jwksUrl: `http://127.0.0.1:${port}/jwks`, algorithms: ALGORITHMS })))
      .toBe(`cannot fetch the JWKS at http://127.0.0.1:${port}/jwks: ECONNREFUSED`)
  })

  it('says what is wrong with the discovery document', async () => {
    const discover = (issuer: string) => fetchIssuerKeys({ issuer, algorithms: ALGORITHMS })
    expect(await refusal(discover(`${base}/nowhere`)))
      .toBe(`cannot fetch the OpenID configuration at ${base}/nowhere/.well-known/openid-configuration: it answered HTTP 404`)
    serveJson('/text/.well-known/openid-configuration', 'issuer: me')
    expect(await refusal(discover(`${base}/text`))).toBe(`the OpenID configuration at ${base}/text/.well-known/openid-configuration is not JSON`)
    serveJson('/other/.well-known/openid-configuration', { issuer: `${base}/other/`, jwks_uri: `${base}/given.json` })
    expect(await refusal(discover(`${base}/other`))).toBe(`the OpenID configuration at ${base}/other/.well-known/openid-configuration `
      + `names the issuer "${base}/other/", not "${base}/other"; configure the issuer exactly as it names itself`)
    serveJson('/nokeys/.well-known/openid-configuration', { issuer: `${base}/nokeys` })
    expect(await refusal(discover(`${base}/nokeys`))).toBe(`the OpenID configuration at ${base}/nokeys/.well-known/openid-configuration has no http(s) jwks_uri`)
    await expect(discover('urn:annal:issuer')).rejects.toThrow(TypeError)
  })
})

// `annal serve` in production mode, as a real process: tokens from an authorization server whose
// keys come from a JWKS URL (a real HTTP server here) or a local JWKS file, real signed tokens.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http'
import { type Server, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TestAuthServer } from '../packages/server/src/testing/auth-server.js'
import { Mint, type SigningKey, bearer, jwksOf, signingKey } from '../packages/server/src/testing/fixture.js'
import { providerToken } from '../packages/server/src/testing/providers.js'
import { killStarted, startAnnal as start } from './process.js'

const ISSUER = 'https://issuer.production.test'
const AUDIENCE = 'https://annal.production.test/'
const READY = /serving .* on (http:\/\/127\.0\.0\.1:(\d+))\n/
/** A JWS in compact form, as any printed token would be. */
const JWT = /eyJ[\w-]+\.eyJ[\w-]+\./

let key: SigningKey
let mint: Mint
let authServer: TestAuthServer
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  key = await signingKey('ES256')
  mint = new Mint(key, ISSUER, AUDIENCE)
  authServer = await TestAuthServer.start(jwksOf(key))
})

afterAll(async () => {
  await authServer?.close()
})

afterEach(async () => {
  await killStarted()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function directory(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'annal-serve-production-'))
  cleanups.push(() => rm(path, { recursive: true, force: true }))
  return path
}

/** Creates the log `audit` with an admin token, then resolves with the status of one append made with `token`. */
async function createAndAppend(url: string, token: Promise<string> = mint.token({ scope: 'log:append:audit' })): Promise<number> {
  const json = { 'content-type': 'application/json' }
  const created = await fetch(`${url}/v1/logs`, {
    method: 'POST', body: '{"name":"audit"}', headers: { ...bearer(await mint.token({ scope: 'log:admin' })), ...json },
  })
  expect(created.status).toBe(201)
  const appended = await fetch(`${url}/v1/logs/audit/entries`, { method: 'POST', body: '{"actor":"frank"}', headers: { ...bearer(await token), ...json } })
  return appended.status
}

/** Stops `server` with SIGTERM, expects exit code 0, and resolves with all it printed. */
async function stop(server: ReturnType<typeof start>): Promise<string> {
  server.child.kill('SIGTERM')
  expect(await server.exited).toBe(0)
  const { stdout, stderr } = server.output()
  return stdout + stderr
}

/** Runs `annal serve` expecting a refusal: resolves with its exit code and the lines on stderr. */
async function refusal(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number | null; lines: string[] }> {
  const run = start(['serve', ...args], READY, env)
  // One that starts anyway is stopped, and fails on its exit code.
  run.matched.then(() => run.child.kill('SIGTERM'), () => undefined)
  const code = await run.exited
  return { code, lines: run.output().stderr.trim().split('\n') }
}

/** A port that something else is listening on. */
async function busyPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(resolve)))
  return (server.address() as { port: number }).port
}

describe('annal serve in production mode, as a real process', () => {
  it('--jwks-url: accepts the issuer\'s tokens, prints none, and has no dev issuer', async () => {
    const server = start(['serve', '--data', await directory(), '--port', '0', '--issuer', ISSUER, '--audience', AUDIENCE,
      '--jwks-url', authServer.jwksUrl], READY)
    const url = (await server.matched)[1]!
    const fetchesBefore = authServer.fetches
    expect(await createAndAppend(url)).toBe(201)
    expect(authServer.fetches).toBeGreaterThan(fetchesBefore)
    const metadata = await (await fetch(`${url}/.well-known/oauth-protected-resource`)).json()
    expect(metadata).toMatchObject({ resource: AUDIENCE, authorization_servers: [ISSUER] })

    // A token as the dev issuer makes them, for this very audience, signed with a key the server was never given.
    const devStyle = await new Mint(await signingKey('ES256'), 'urn:annal:dev-issuer', AUDIENCE).token({ scope: 'log:append' })
    const refused = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{}', headers: { ...bearer(devStyle), 'content-type': 'application/json' },
    })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"')

    const output = await stop(server)
    expect(output).not.toMatch(JWT)
    expect(output).not.toMatch(/DEV MODE|valid 24 h/)
  })

  it('--jwks-file: accepts tokens signed with a key from the file, and only those', async () => {
    const dir = await directory()
    const jwksFile = join(dir, 'jwks.json')
    await writeFile(jwksFile, JSON.stringify(jwksOf(key)))
    const server = start(['serve', '--data', join(dir, 'ledger'), '--port', '0', '--issuer', ISSUER, '--audience', AUDIENCE,
      '--jwks-file', jwksFile], READY)
    const url = (await server.matched)[1]!
    const stranger = new Mint(await signingKey('ES256'), ISSUER, AUDIENCE)
    expect(await createAndAppend(url, stranger.token({ scope: 'log:append:audit' }))).toBe(401)
    const appended = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{"actor":"grace"}', headers: { ...bearer(await mint.token({ scope: 'log:append' })), 'content-type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    expect(await stop(server)).not.toMatch(JWT)
  })

  it('refuses a missing or malformed JWKS file, or two key sources, in one sentence', async () => {
    const dir = await directory()
    const write = async (name: string, text: string) => {
      await writeFile(join(dir, name), text)
      return join(dir, name)
    }
    const production = (jwks: string[]) => ['--data', join(dir, 'ledger'), '--issuer', ISSUER, '--audience', AUDIENCE, ...jwks]
    const [missing, notJson, noKeys, privateKey, both] = await Promise.all([
      refusal(production(['--jwks-file', join(dir, 'missing.json')])),
      refusal(production(['--jwks-file', await write('truncated.json', '{"keys": [')])),
      refusal(production(['--jwks-file', await write('empty.json', '{"keys": []}')])),
      refusal(production(['--jwks-file', await write('private.json', JSON.stringify({ keys: [{ ...key.publicJwk, d: 'AAAA' }] }))])),
      refusal(production(['--jwks-file', await write('jwks.json', JSON.stringify(jwksOf(key))), '--jwks-url', authServer.jwksUrl])),
    ])
    expect(missing).toEqual({ code: 2, lines: [expect.stringMatching(/^annal: cannot read the JWKS file \S+missing\.json: ENOENT: .*\.$/)] })
    expect(notJson).toEqual({ code: 2, lines: [expect.stringMatching(/^annal: cannot read the JWKS file \S+truncated\.json: .*JSON.*\.$/)] })
    expect(noKeys).toEqual({ code: 2, lines: [expect.stringMatching(/^annal: \S+empty\.json must hold a JSON Web Key Set, .* at least one key\.$/)] })
    expect(privateKey).toEqual({ code: 2, lines: [expect.stringMatching(/^annal: \S+private\.json holds private or secret key material; .*\.$/)] })
    expect(both).toEqual({ code: 2, lines: ['annal: production mode takes --jwks-url or --jwks-file, not both.'] })
  })

  it('refuses to start without an audience, or without an issuer, naming what is missing', async () => {
    const data = await directory()
    const [noAudience, noIssuer] = await Promise.all([
      refusal(['--data', data, '--issuer', ISSUER, '--jwks-url', authServer.jwksUrl]),
      refusal(['--data', data, '--audience', AUDIENCE, '--jwks-url', authServer.jwksUrl]),
    ])
    expect(noAudience).toEqual({ code: 2, lines: ['annal: production mode needs --audience (or --dev for a local trial).'] })
    expect(noIssuer).toEqual({ code: 2, lines: ['annal: production mode needs --issuer (or --dev for a local trial).'] })
  })

  it('takes settings from --config and ANNAL_* variables: flags over the environment over the file', async () => {
    const dir = await directory()
    const [filePort, environmentPort] = [await busyPort(), await busyPort()]
    const config = join(dir, 'annal.json')
    await writeFile(config, JSON.stringify({
      issuer: ISSUER, audience: 'https://overridden.production.test/', jwksUrl: authServer.jwksUrl, port: filePort,
    }))
    const data = join(dir, 'ledger')
    const environment = { ANNAL_DATA: data, ANNAL_AUDIENCE: AUDIENCE }

    // Each port is taken, so a start on it fails and names it: which one was tried shows who won.
    const fromFile = await refusal(['--config', config], environment)
    expect(fromFile).toEqual({ code: 1, lines: [expect.stringContaining(`EADDRINUSE: address already in use 127.0.0.1:${filePort}`)] })
    const fromEnvironment = await refusal(['--config', config], { ...environment, ANNAL_PORT: String(environmentPort) })
    expect(fromEnvironment).toEqual({ code: 1, lines: [expect.stringContaining(`EADDRINUSE: address already in use 127.0.0.1:${environmentPort}`)] })

    const server = start(['serve', '--config', config, '--port', '0'], READY, { ...environment, ANNAL_PORT: String(environmentPort) })
    const [, url, port] = await server.matched
    expect([filePort, environmentPort]).not.toContain(Number(port))
    expect(server.output().stdout).toContain(`annal serving ${data} on`)
    // Issuer and key URL from the file, audience from the environment over the file's.
    expect(await createAndAppend(url!)).toBe(201)
    await stop(server)
  })
})

/** A loopback port that nothing listens on: taken, then given back. */
async function closedPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** An issuer on 127.0.0.1 serving its discovery document and `key`; `answers` overrides paths. */
async function discoveryServer(answers: Record<string, { status: number; body: string }> = {}): Promise<string> {
  let issuer = ''
  const server: HttpServer = createHttpServer((request, response) => {
    const known: Record<string, unknown> = {
      '/.well-known/openid-configuration': { issuer, jwks_uri: `${issuer}/keys` },
      '/keys': jwksOf(key),
    }
    const answer = answers[request.url ?? ''] ?? (request.url! in known ? { status: 200, body: JSON.stringify(known[request.url!]) } : undefined)
    response.writeHead(answer?.status ?? 404, { 'Content-Type': 'application/json' }).end(answer?.body ?? '')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return issuer
}

describe('annal serve with a real identity provider', () => {
  it('without --jwks-url, finds the keys through the issuer\'s discovery document before listening', async () => {
    const issuer = await discoveryServer()
    const server = start(['serve', '--data', await directory(), '--port', '0', '--issuer', issuer, '--audience', AUDIENCE], READY)
    const url = (await server.matched)[1]!
    const issued = new Mint(key, issuer, AUDIENCE)
    const created = await fetch(`${url}/v1/logs`, {
      method: 'POST', body: '{"name":"audit"}', headers: { ...bearer(await issued.token({ scope: 'log:admin' })), 'content-type': 'application/json' },
    })
    expect(created.status).toBe(201)
    await stop(server)
  })

  it('exits 1 in one sentence naming the URL when the keys cannot be had', async () => {
    const issuer = await discoveryServer({ '/html': { status: 200, body: '<html>' }, '/empty': { status: 200, body: '{"keys":[]}' } })
    const closed = await closedPort()
    const data = await directory()
    const production = (extra: string[]) => ['--data', data, '--issuer', issuer, '--audience', AUDIENCE, ...extra]
    const [missing, notJson, empty, unreachable, noDiscovery] = await Promise.all([
      refusal(production(['--jwks-url', `${issuer}/missing`])),
      refusal(production(['--jwks-url', `${issuer}/html`])),
      refusal(production(['--jwks-url', `${issuer}/empty`])),
      refusal(['--data', data, '--issuer', ISSUER, '--audience', AUDIENCE, '--jwks-url', `http://127.0.0.1:${closed}/keys`]),
      refusal(['--data', data, '--issuer', `${issuer}/realms/none`, '--audience', AUDIENCE]),
    ])
    expect(missing).toEqual({ code: 1, lines: [`annal: cannot fetch the JWKS at ${issuer}/missing: it answered HTTP 404.`] })
    expect(notJson).toEqual({ code: 1, lines: [`annal: the JWKS at ${issuer}/html is not JSON.`] })
    expect(empty).toEqual({ code: 1, lines: [
      `annal: the JWKS at ${issuer}/empty holds no usable public signing key for RS256, PS256, ES256, EdDSA, Ed25519 (of 0 keys).`,
    ] })
    expect(unreachable).toEqual({ code: 1, lines: [`annal: cannot fetch the JWKS at http://127.0.0.1:${closed}/keys: ECONNREFUSED.`] })
    expect(noDiscovery).toEqual({ code: 1, lines: [
      `annal: cannot fetch the OpenID configuration at ${issuer}/realms/none/.well-known/openid-configuration: it answered HTTP 404.`,
    ] })
  })

  it('takes a token profile from --token-profile, ANNAL_TOKEN_PROFILE or the config file, and refuses an unknown one', async () => {
    const dir = await directory()
    const jwksFile = join(dir, 'jwks.json')
    await writeFile(jwksFile, JSON.stringify(jwksOf(key)))
    const base = ['--issuer', ISSUER, '--audience', AUDIENCE, '--jwks-file', jwksFile, '--port', '0']
    const okta = await providerToken(mint, 'okta', ['log:read'])
    const read = async (url: string) => (await fetch(`${url}/v1/logs/access/entries`, { headers: bearer(okta) })).status
    const unknown = await refusal(['--data', join(dir, 'unknown'), ...base, '--token-profile', 'google'])
    expect(unknown).toEqual({ code: 2, lines: ['annal: unknown token profile "google"; use one of rfc9068, keycloak, auth0, okta, entra.'] })

    const strict = start(['serve', '--data', join(dir, 'strict'), ...base], READY)
    expect(await read((await strict.matched)[1]!)).toBe(401)
    await stop(strict)
    const config = join(dir, 'annal.json')
    await writeFile(config, JSON.stringify({ tokenProfile: 'okta' }))
    for (const [args, env] of [[['--token-profile', 'okta'], {}], [[], { ANNAL_TOKEN_PROFILE: 'okta' }], [['--config', config], {}]] as const) {
      const server = start(['serve', '--data', join(dir, 'okta'), ...base, ...args], READY, env)
      // okta's log:read does not reach the access log, which needs audit:read: 403, past authentication.
      expect(await read((await server.matched)[1]!)).toBe(403)
      await stop(server)
    }
  })

  it('clamps each client\'s tokens to its scopeCeilings from the config file', async () => {
    const dir = await directory()
    const config = join(dir, 'annal.json')
    await writeFile(config, JSON.stringify({
      issuer: ISSUER, audience: AUDIENCE, jwksUrl: authServer.jwksUrl, scopeCeilings: { reporting: ['log:read'] },
    }))
    const server = start(['serve', '--data', join(dir, 'data'), '--config', config, '--port', '0'], READY)
    const url = (await server.matched)[1]!
    const reporting = mint.token({ scope: 'log:read log:append:audit', claims: { client_id: 'reporting' } })
    expect(await createAndAppend(url, reporting)).toBe(403)
    // Another client has no ceiling: the same scope appends.
    const appended = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{}', headers: { ...bearer(await mint.token({ scope: 'log:append:audit' })), 'content-type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    await stop(server)
  })
})

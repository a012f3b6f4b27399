import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Mint, type SigningKey, jwksOf, signingKey } from '../../server/src/testing/fixture.js'
import { providerToken } from '../../server/src/testing/providers.js'
import { memoryIo } from './io.js'
import { main } from './main.js'

const AUDIENCE = 'https://annal.check.test/'
let key: SigningKey
let issuer: string
let mint: Mint
let server: Server
let directory: string
let jwksFile: string

// An issuer on the loopback that serves its discovery document and its keys.
beforeAll(async () => {
  key = await signingKey('ES256')
  server = createServer((request, response) => {
    const body = request.url === '/.well-known/openid-configuration' ? { issuer, jwks_uri: `${issuer}/keys` }
      : request.url === '/keys' ? jwksOf(key) : undefined
    response.writeHead(body === undefined ? 404 : 200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body ?? {}))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  mint = new Mint(key, issuer, AUDIENCE)
  directory = await mkdtemp(join(tmpdir(), 'annal-auth-check-'))
  jwksFile = join(directory, 'jwks.json')
  await writeFile(jwksFile, JSON.stringify(jwksOf(key)))
})
afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await rm(directory, { recursive: true, force: true })
})

/** Runs `annal auth check ...` in-process with `input` on stdin; never lets the token reach the output. */
async function check(args: readonly string[], input = '', env: Record<string, string> = {}) {
  const io = memoryIo({ input, env })
  const code = await main(['auth', 'check', ...args], io)
  const token = input.trim() || args.find((arg) => arg.startsWith('eyJ'))
  if (token) for (const part of [token, ...token.split('.')]) expect(io.stdout + io.stderr).not.toContain(part)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

describe('annal auth check', () => {
  it('reads the token from stdin with -, prints one line per rule, exits 0 when all pass', async () => {
    const token = await mint.token({ scope: 'log:append' })
    const { code, stdout } = await check(['--issuer', issuer, '--audience', AUDIENCE, '--jwks-file', jwksFile, '-'], `${token}\n`)
    expect(code).toBe(0)
    const lines = stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^token sha256:[0-9a-f]{64}$/)
    expect(lines.slice(1).map((line) => line.slice(0, 16))).toEqual([
      'pass  format    ', 'pass  alg       ', 'pass  signature ', 'pass  typ       ', 'pass  iss       ', 'pass  aud       ',
      'pass  exp       ', 'pass  nbf       ', 'pass  iat       ', 'pass  claims    ', 'pass  client    ', 'pass  bearer    ', 'pass  scopes    ',
    ])
    expect(stdout).toContain('pass  scopes    grants log:append (from scope)')
  })

  it('discovers the keys from the issuer, and exits 1 naming the rules a token fails', async () => {
    const okta = await providerToken(mint, 'okta', ['log:read'])
    const strict = await check(['--issuer', issuer, '--audience', AUDIENCE, '-'], okta)
    expect(strict.code).toBe(1)
    expect(strict.stdout.split('\n').filter((line) => line.startsWith('FAIL'))).toEqual([
      'FAIL  typ       no typ is not accepted; accepted: at+jwt',
      'FAIL  client    names no client: it has none of client_id',
    ])
    expect((await check(['--issuer', issuer, '--audience', AUDIENCE, '--token-profile', 'okta', '-'], okta)).code).toBe(0)
    expect((await check(['--issuer', issuer, '--audience', AUDIENCE, '-'], okta, { ANNAL_TOKEN_PROFILE: 'okta' })).code).toBe(0)
  })

  it('takes the settings annal serve takes from --config, and prints JSON with --json', async () => {
    const config = join(directory, 'annal.json')
    await writeFile(config, JSON.stringify({ issuer, audience: AUDIENCE, jwksFile, tokenProfile: 'keycloak', clientClaims: ['azp'] }))
    const token = await providerToken(mint, 'keycloak', ['log:read'])
    const { code, stdout } = await check(['--config', config, '--json', '-'], token)
    expect(code).toBe(0)
    const explanation = JSON.parse(stdout) as { passed: boolean; rules: { rule: string; detail: string }[] }
    expect(explanation.passed).toBe(true)
    expect(explanation.rules.find((rule) => rule.rule === 'client')?.detail).toBe('names the client "annal-ingest" in azp')
  })

  it('refuses an unknown token profile naming the valid ones, exit 2', async () => {
    const { code, stderr } = await check(['--issuer', issuer, '--audience', AUDIENCE, '--token-profile', 'google', 'x.y.z'])
    expect(code).toBe(2)
    expect(stderr).toBe('annal: unknown token profile "google"; use one of rfc9068, keycloak, auth0, okta, entra.\n')
  })

  it('exits 1 in one sentence naming the URL when the keys cannot be fetched', async () => {
    const { code, stderr } = await check(['--issuer', issuer, '--audience', AUDIENCE, '--jwks-url', `${issuer}/gone`, 'x.y.z'])
    expect(code).toBe(1)
    expect(stderr).toBe(`annal: cannot fetch the JWKS at ${issuer}/gone: it answered HTTP 404.\n`)
  })
})

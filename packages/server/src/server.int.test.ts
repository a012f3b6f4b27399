import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage, Server } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { Ledger } from '@annal/store'
import { decodeEntryBundle, defaultHasher, hexToBytes, bytesToHex, verifyInclusion } from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from './app.js'
import { type RunningServer, serve } from './serve.js'
import { TestAuthServer } from './testing/auth-server.js'
import { type SigningKey, Mint, accessRecords, bearer, jwksOf, signingKey } from './testing/fixture.js'

const ISSUER = 'https://issuer.int.test'
let directory: string
let ledger: Ledger
let auth: TestAuthServer
let server: RunningServer
let keys: SigningKey[]
let mint: Mint
let audience: string

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-server-int-'))
  ledger = await Ledger.open(directory, { originPrefix: 'annal.int.test' })
  await ledger.createLog('audit')
  keys = [await signingKey('ES256'), await signingKey('EdDSA')]
  auth = await TestAuthServer.start(jwksOf(keys[0]!))
  audience = 'http://annal.int.test/'
  const app = await createApp({
    ledger,
    auth: { issuer: ISSUER, audience, jwksUrl: auth.jwksUrl, jwksCooldownMs: 0 },
    limits: { bodyBytes: 64 * 1024, bodyTimeoutMs: 300 },
  })
  server = await serve(app, { requestTimeoutMs: 1_000 })
  mint = new Mint(keys[0]!, ISSUER, audience)
})

afterAll(async () => {
  await server?.close()
  await auth?.close()
  await ledger?.close()
  await rm(directory, { recursive: true, force: true })
})

/** Polls `condition` every 10 ms, failing after a deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not come within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Resolves once `server` has read `bytes` bytes of the connection that sends a request with `token`. */
function received(server: Server, token: string, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onRequest = (request: IncomingMessage) => {
      if (request.headers.authorization !== `Bearer ${token}`) return
      server.off('request', onRequest)
      until(() => request.socket.bytesRead >= bytes, 'the server reading the request').then(resolve, reject)
    }
    server.on('request', onRequest)
  })
}

function url(path: string): string {
  return `${server.url}${path}`
}

describe('a real server on a loopback port', () => {
  it('listens on 127.0.0.1 on an ephemeral port', () => {
    expect(server.host).toBe('127.0.0.1')
    expect(server.port).toBeGreaterThan(0)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
  })

  it('end to end: append, then verify inclusion against the signed checkpoint', async () => {
    const token = await mint.token({ scope: 'log:append:audit log:read:audit' })
    const appended = await fetch(url('/v1/logs/audit/entries'), {
      method: 'POST', body: JSON.stringify({ action: 'grant', role: 'admin' }), headers: { ...bearer(token), 'Content-Type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    const { index, id, checkpoint } = await appended.json() as { index: number; id: string; checkpoint: { size: number } }
    const note = await (await fetch(url('/v1/logs/audit/checkpoint'))).text()
    const info = await (await fetch(url('/v1/logs/audit'))).json() as { verifier_key: string }
    const verified = openCheckpoint(note, [parseVerifierKey(info.verifier_key)])
    expect(verified.size).toBeGreaterThanOrEqual(checkpoint.size)
    const proof = await (await fetch(url(`/v1/logs/audit/proof/inclusion?index=${index}&tree_size=${verified.size}`))).json() as
      { leaf_hash: string; proof: string[]; tree_size: number }
    // The leaf is the envelope: fetch its bytes from the entry bundle and hash them ourselves.
    const bundle = new Uint8Array(await (await fetch(url(`/v1/logs/audit/tile/entries/000.p/${verified.size}`), { headers: bearer(token) })).arrayBuffer())
    const leaf = decodeEntryBundle(bundle)[index]!
    const leafHash = defaultHasher.leaf(leaf)
    expect(bytesToHex(leafHash)).toBe(proof.leaf_hash)
    expect(bytesToHex(leafHash)).toBe(id)
    verifyInclusion(index, verified.size, leafHash, proof.proof.map(hexToBytes), verified.rootHash)
    const tampered = proof.proof.map(hexToBytes)
    if (tampered.length > 0) tampered[0]![0]! ^= 1
    else leafHash[0]! ^= 1
    expect(() => verifyInclusion(index, verified.size, leafHash, tampered, verified.rootHash)).toThrow()
    const envelope = JSON.parse(new TextDecoder().decode(leaf)) as { object: { hash: string } }
    const object = await fetch(url(`/v1/objects/${envelope.object.hash}`), { headers: bearer(await mint.token({ scope: 'log:read' })) })
    expect(await object.json()).toEqual({ action: 'grant', role: 'admin' })
  })

  it('is idempotent with an Idempotency-Key over HTTP', async () => {
    const token = await mint.token({ scope: 'log:append' })
    const send = async (): Promise<Response> => fetch(url('/v1/logs/audit/entries'), {
      method: 'POST', body: '{"retry":true}', headers: { ...bearer(token), 'Content-Type': 'application/json', 'Idempotency-Key': 'int-1' },
    })
    const size = ledger.log('audit').size
    const [first, second] = [await send(), await send()]
    expect(await second.json()).toEqual(await first.json())
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(ledger.log('audit').size).toBe(size + 1)
  })

  it('appends NDJSON all or nothing', async () => {
    const token = await mint.token({ scope: 'log:append' })
    const size = ledger.log('audit').size
    const send = async (body: string): Promise<Response> => fetch(url('/v1/logs/audit/entries'), {
      method: 'POST', body, headers: { ...bearer(token), 'Content-Type': 'application/x-ndjson' },
    })
    const bad = await send('{"a":1}\n{"b":2}\nnot json\n')
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ code: 'BODY_MALFORMED', line: 3 })
    expect(ledger.log('audit').size).toBe(size)
    const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i })).join('\n')
    const good = await send(lines)
    expect(good.status).toBe(201)
    const text = await good.text()
    expect(Number(good.headers.get('content-length'))).toBe(Buffer.byteLength(text))
    const results = text.trim().split('\n').map((line) => ({ line, result: JSON.parse(line) as Record<string, unknown> }))
    const checkpoint = { size: size + 500, root: ledger.log('audit').checkpointInfo.root }
    results.forEach(({ line, result }, i) => {
      // One result a line, as JSON.stringify writes it, naming the line's own event.
      expect(result).toEqual({
        index: size + i, id: expect.stringMatching(/^[0-9a-f]{64}$/), duplicate: false,
        object: `sha256:${createHash('sha256').update(JSON.stringify({ i })).digest('hex')}`, checkpoint,
      })
      expect(line).toBe(JSON.stringify(result))
    })
    expect(new Set(results.map(({ result }) => result.id)).size).toBe(500)
    expect(ledger.log('audit').size).toBe(size + 500)
  })

  it('follows key rotation at the authorization server', async () => {
    const rotated = new Mint(keys[1]!, ISSUER, audience)
    const token = await rotated.token({ scope: 'log:read' })
    expect((await fetch(url('/v1/logs/audit/entries'), { headers: bearer(token) })).status).toBe(401)
    auth.jwks = jwksOf(keys[0]!, keys[1]!)
    const again = await rotated.token({ scope: 'log:read' })
    expect((await fetch(url('/v1/logs/audit/entries'), { headers: bearer(again) })).status).toBe(200)
  })

  it('answers 503 when the keys cannot be fetched, and 413 for bodies over the limit', async () => {
    const otherDirectory = await mkdtemp(join(tmpdir(), 'annal-server-int-'))
    const otherLedger = await Ledger.open(otherDirectory)
    const app = await createApp({ ledger: otherLedger, auth: { issuer: ISSUER, audience, jwksUrl: auth.jwksUrl } })
    auth.failWith = 500
    try {
      const response = await app.request('/v1/logs', { headers: bearer(await mint.token({ scope: 'log:read' })) })
      expect(response.status).toBe(503)
      expect(await response.json()).toMatchObject({ code: 'AUTH_UNAVAILABLE' })
    } finally {
      auth.failWith = undefined
      await otherLedger.close()
      await rm(otherDirectory, { recursive: true, force: true })
    }
    const token = await mint.token({ scope: 'log:append' })
    const big = await fetch(url('/v1/logs/audit/entries'), {
      method: 'POST', body: 'x'.repeat(64 * 1024 + 1), headers: { ...bearer(token), 'Content-Type': 'text/plain' },
    })
    expect(big.status).toBe(413)
  })

  it('cuts off a slow upload with a 408 problem, records it, and appends nothing', async () => {
    const token = await mint.token({ scope: 'log:append' })
    const size = ledger.log('audit').size
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`POST /v1/logs/audit/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
          + 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"slow":')
      })
      let data = ''
      socket.on('data', (chunk) => { data += chunk.toString() })
      // The server closes the connection after the 408: the rest of the body would follow it.
      socket.on('close', () => resolve(data))
      socket.on('error', reject)
    })
    const [head, body] = reply.split('\r\n\r\n') as [string, string]
    expect(head).toMatch(/^HTTP\/1\.1 408 /)
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json/i)
    expect(head).toMatch(/\r\nconnection: close/i)
    expect(JSON.parse(body)).toMatchObject({ status: 408, code: 'BODY_TIMEOUT' })
    expect(ledger.log('audit').size).toBe(size)
    const records = await accessRecords(ledger)
    expect(records.at(-1)).toMatchObject({ route: '/v1/logs/:log/entries', status: 408, code: 'BODY_TIMEOUT' })
  })

  it('appends nothing from an aborted upload', async () => {
    const token = await mint.token({ scope: 'log:append' })
    const size = ledger.log('audit').size
    const accessSize = ledger.log('access').size
    const socket = connect(server.port, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    const upload = `POST /v1/logs/audit/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
      + 'Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial event'
    const read = received(server.server, token, upload.length)
    socket.write(upload)
    await read
    socket.destroy()
    await until(() => ledger.log('access').size > accessSize, 'the aborted upload\'s access record')
    expect(ledger.log('audit').size).toBe(size)
    const records = await accessRecords(ledger)
    expect(records.at(-1)).toMatchObject({ route: '/v1/logs/:log/entries', status: 400, code: 'BODY_MALFORMED' })
  })

  it('closes gracefully: in-flight requests finish, new connections are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-server-int-'))
    const local = await Ledger.open(dir)
    // A grace period longer than the test may take: only closing the finished connection ends it in time.
    const running = await serve(await createApp({ ledger: local, auth: { issuer: ISSUER, audience, jwksUrl: auth.jwksUrl } }),
      { closeGraceMs: 60_000 })
    try {
      await local.createLog('audit')
      const token = await mint.token({ scope: 'log:append' })
      const socket = connect(running.port, '127.0.0.1')
      await new Promise<void>((resolve) => socket.once('connect', resolve))
      const reply = new Promise<string>((resolve) => {
        let data = ''
        socket.on('data', (chunk) => { data += chunk.toString() })
        socket.on('close', () => resolve(data))
      })
      // A keep-alive client: the server must still end the connection after the answer, or the
      // idle connection would hold the close until Node's keepAliveTimeout (made longer than the
      // test may take).
      running.server.keepAliveTimeout = 60_000
      const head = `POST /v1/logs/audit/entries HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n`
        + 'Content-Type: application/json\r\nContent-Length: 12\r\n\r\n{"in":'
      const read = received(running.server, token, head.length)
      socket.write(head)
      await read
      const closed = running.close()
      socket.write('"fly"}')
      const answer = await reply
      expect(answer).toMatch(/^HTTP\/1\.1 201/)
      await closed
      expect(local.log('audit').size).toBe(1)
      await expect(fetch(`${running.url}/healthz`)).rejects.toThrow()
    } finally {
      await local.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

// `annal serve --publish` as a real process, publishing to a real S3-compatible server (s3rver
// over HTTP, SigV4 checked): a reader that knows only the bucket's URL and the log's verifier
// key reads the whole tree back with plain GETs and checks it against the API's checkpoint, with
// code of its own (node:crypto alone: no Annal package), and a witness checks a checkpoint with
// the bucket's tiles. Then the bucket goes away while appends go on, and the server is killed
// with SIGKILL halfway through a publication.
import { createHash, createPublicKey, verify } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sampleValue, scrape } from '@annal/http/testing'
import { formatAddCheckpoint } from '@annal/note'
import { runWitness } from '@annal/witness'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TestS3Server } from '../packages/publish/src/testing/s3-server.js'
import { killStarted, startAnnal } from './process.js'

const BANNER = /try:\n[\s\S]*proof\/inclusion/
const TILE_WIDTH = 256
const FULL = 'public, max-age=31536000, immutable'

let directory: string
let s3: TestS3Server

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'annal-publish-int-'))
  s3 = await TestS3Server.start(join(directory, 's3'), 'tiles')
})

afterEach(async () => {
  s3.fault = undefined
  await killStarted()
})

afterAll(async () => {
  await s3?.close()
  await rm(directory, { recursive: true, force: true })
})

/** `annal serve --dev` publishing to the test bucket under `prefix/`, with its metrics; resolves once it serves. */
async function startServer(data: string, prefix: string) {
  const metricsPort = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/
  const server = startAnnal(['serve', '--dev', '--data', data, '--port', '0', '--metrics', '127.0.0.1:0',
    '--publish', `s3://tiles/${prefix}`, '--publish-endpoint', s3.url, '--publish-path-style'], BANNER,
  // The AWS SDK's own chain finds the key pair in the environment, and never asks an instance metadata service.
  { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' })
  const banner = (await server.matched).input
  expect(banner).toContain(`publishing logs to s3://tiles/${prefix} at ${s3.url}`)
  const url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
  return {
    ...server, url,
    metrics: metricsPort.exec(banner)![1]!,
    verifierKey: /log "audit" verifier key: (\S+)/.exec(banner)![1]!,
    appender: new RegExp('appender +\\([^)]*\\), valid 24 h:\\n  (\\S+)').exec(banner)![1]!,
  }
}

type Server = Awaited<ReturnType<typeof startServer>>

/** Appends `count` events to log audit over HTTP, in NDJSON requests of at most 1,000. */
async function append(server: Server, count: number): Promise<void> {
  for (let done = 0; done < count;) {
    const n = Math.min(1_000, count - done)
    const body = Array.from({ length: n }, (_, i) => JSON.stringify({ actor: 'alice', event: done + i })).join('\n')
    const response = await fetch(`${server.url}/v1/logs/audit/entries`, {
      method: 'POST', body, headers: { authorization: `Bearer ${server.appender}`, 'content-type': 'application/x-ndjson' },
    })
    expect(response.status).toBe(201)
    await response.arrayBuffer()
    done += n
  }
}

async function apiCheckpoint(server: Server): Promise<string> {
  return (await fetch(`${server.url}/v1/logs/audit/checkpoint`)).text()
}

async function published(server: Server, name: string): Promise<number | undefined> {
  return sampleValue(await scrape(`${server.metrics}/metrics`), name, { log: 'audit' })
}

/** Polls `check` every 50 ms, for up to 25 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (const started = Date.now(); !(await check());) {
    if (Date.now() - started > 25_000) throw new Error(`not within 25 s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The bucket's checkpoint of log audit under `prefix`, or undefined while it has none. */
async function bucketCheckpoint(prefix: string): Promise<string | undefined> {
  const response = await fetch(s3.objectUrl(`${prefix}/audit/checkpoint`))
  return response.status === 404 ? (await response.arrayBuffer(), undefined) : response.text()
}

// Each test starts `annal serve` processes and waits for a publisher whose retries are seconds
// apart: under the whole suite on two cores, the outage test once took past the usual 30 s.
describe('annal serve --publish', { timeout: 60_000 }, () => {
  it('puts a tree in the bucket that a reader of the bucket alone verifies against the API\'s checkpoint', async () => {
    const server = await startServer(join(directory, 'whole'), 'whole')
    await append(server, 300)
    const small = await apiCheckpoint(server)
    await append(server, 400)
    await append(server, 77)
    const checkpoint = await apiCheckpoint(server)
    await until(async () => (await bucketCheckpoint('whole')) === checkpoint, 'the API\'s checkpoint in the bucket')
    const tree = await readBucket(s3.objectUrl('whole/audit'), server.verifierKey)
    expect(tree.size).toBe(777)
    expect(tree.checked).toBe(3 + 3) // full bundles and level-0 tiles; the rest are partial
    expect(await published(server, 'annal_publish_size')).toBe(777)
    // The server's own logs are not published: their tiles need a token from the API.
    expect(s3.requests.filter((request) => /^whole\/(access|alerts)\//.test(request.key))).toEqual([])

    // A witness given the bucket as the log's tiles checks an older checkpoint against them.
    const witness = await runWitness({ data: join(directory, 'witness'), name: 'bucket-reader.test',
      logs: [{ verifierKey: server.verifierKey, url: s3.objectUrl('whole/audit') }], checkRetryMs: 100 })
    try {
      expect((await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint(0, [], checkpoint) })).status).toBe(200)
      const gossip = await fetch(`${witness.url}/v1/gossip`, { method: 'POST', body: small })
      expect(await gossip.json()).toEqual({ result: 'older' })
      await until(async () => witness.checkStatus()[0]!.verified === 1, 'the older checkpoint checked against the bucket\'s tiles')
      expect(witness.checkStatus()[0]!.failures).toBe(0)
      expect(s3.requests.some((request) => request.method === 'GET' && request.key.startsWith('whole/audit/tile/'))).toBe(true)
    } finally {
      await witness.close()
    }
  })

  it('goes on appending while the bucket is down, and catches up once it is back', async () => {
    const server = await startServer(join(directory, 'outage'), 'outage')
    await append(server, 10)
    await until(async () => (await bucketCheckpoint('outage')) === await apiCheckpoint(server), 'size 10 in the bucket')
    await s3.stop()
    // The outage ends as soon as a failure is counted: the publisher's wait doubles with each
    // failure in a row, and a longer outage would only make the catching up later.
    try {
      await append(server, 525)
      await until(async () => ((await published(server, 'annal_publish_failures_total')) ?? 0) >= 1, 'a failure counted')
      expect(await published(server, 'annal_publish_size')).toBe(10)
    } finally {
      await s3.listen()
    }
    const checkpoint = await apiCheckpoint(server)
    await until(async () => (await bucketCheckpoint('outage')) === checkpoint, 'the API\'s checkpoint in the bucket')
    expect((await readBucket(s3.objectUrl('outage/audit'), server.verifierKey)).size).toBe(535)
    expect(await published(server, 'annal_publish_consecutive_failures')).toBe(0)
    const { stderr } = server.output()
    expect(stderr).toMatch(/publishing log audit to s3:\/\/tiles\/outage at \S+ fails \(.+\); retrying with backoff/)
    expect(stderr).toMatch(/works again \(size \d+\)/)
    expect(stderr).not.toContain('S3RVER')
  })

  it('completes a publication after SIGKILL halfway through it, without uploading full tiles again', async () => {
    const data = join(directory, 'killed')
    // Every full tile goes in; the checkpoint is refused, so the publication stops halfway.
    s3.fault = (request) => (request.method === 'PUT' && request.key === 'killed/audit/checkpoint' ? 500 : undefined)
    const first = await startServer(data, 'killed')
    await append(first, 2_000)
    const put = (key: string) => (request: { method: string; key: string }) => request.method === 'PUT' && request.key === key
    await until(async () => {
      const tile = s3.requests.findIndex(put('killed/audit/tile/0/006'))
      return tile >= 0 && s3.requests.map(put('killed/audit/checkpoint')).lastIndexOf(true) > tile
    },
      'the checkpoint refused after the last full tile')
    expect((await fetch(s3.objectUrl('killed/audit/tile/0/006'))).status).toBe(200)
    first.child.kill('SIGKILL')
    await first.exited
    expect(await bucketCheckpoint('killed')).toBeUndefined()
    s3.fault = undefined
    const again = await startServer(data, 'killed')
    const checkpoint = await apiCheckpoint(again)
    await until(async () => (await bucketCheckpoint('killed')) === checkpoint, 'the API\'s checkpoint in the bucket')
    expect((await readBucket(s3.objectUrl('killed/audit'), again.verifierKey)).size).toBe(2_000)
    const puts = (key: string) => s3.requests.filter((request) => request.method === 'PUT' && request.key === key).length
    expect(puts('killed/audit/tile/0/000')).toBe(1)
    expect(puts('killed/audit/tile/entries/006')).toBe(1)
  })
})

// The reader: C2SP tlog-tiles, tlog-checkpoint and signed-note, RFC 6962 hashing, written here.

const sha256 = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest())
const leafHash = (entry: Uint8Array) => sha256(new Uint8Array([0]), entry)
const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(new Uint8Array([1]), left, right)

/** RFC 6962 §2.1: MTH of n > 1 leaves splits at the largest power of two below n. */
function merkleRoot(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha256()
  if (hashes.length === 1) return hashes[0]!
  let k = 1
  while (k * 2 < hashes.length) k *= 2
  return nodeHash(merkleRoot(hashes.slice(0, k)), merkleRoot(hashes.slice(k)))
}

/** 1234067 is x001/x234/067. */
function tileIndex(n: number): string {
  const groups: string[] = []
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'))
    n = Math.floor(n / 1000)
  } while (n > 0)
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/')
}

/** GETs an object anonymously, checking its Cache-Control and Content-Type. */
async function object(url: string, cacheControl: string, contentType = 'application/octet-stream'): Promise<Uint8Array> {
  const response = await fetch(url)
  expect(response.status, url).toBe(200)
  expect(response.headers.get('cache-control'), url).toBe(cacheControl)
  expect(response.headers.get('content-type'), url).toBe(contentType)
  return new Uint8Array(await response.arrayBuffer())
}

/** Verifies an Ed25519 signed note by the key `vkey` (name+hex id+base64(0x01 || key)) and returns its text. */
function openNote(note: string, vkey: string): string {
  // The base64 key may hold '+' too: the name and the key id come first.
  const [name, id] = vkey.split('+', 2) as [string, string]
  const raw = Buffer.from(vkey.slice(name.length + id.length + 2), 'base64')
  expect(raw[0]).toBe(1)
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.subarray(1).toString('base64url') }, format: 'jwk' })
  const split = note.lastIndexOf('\n\n')
  const text = note.slice(0, split + 1)
  const line = note.slice(split + 2).split('\n').find((candidate) => candidate.startsWith(`\u2014 ${name} `))
  expect(line).toBeDefined()
  const signature = Buffer.from(line!.split(' ')[2]!, 'base64')
  expect(signature.subarray(0, 4).toString('hex')).toBe(id)
  expect(verify(null, Buffer.from(text), publicKey, signature.subarray(4))).toBe(true)
  return text
}

/**
 * Reads log `base` from the bucket: the checkpoint (its signature verified), every entry bundle,
 * and every hash tile of every level at the checkpoint's size, each compared with the hashes the
 * entries give; the root of the entries must be the checkpoint's.
 * @returns the tree's size, and how many full tiles and bundles it checked.
 */
async function readBucket(base: string, vkey: string): Promise<{ size: number; checked: number }> {
  const text = openNote(new TextDecoder().decode(await object(`${base}/checkpoint`, 'public, no-cache', 'text/plain; charset=utf-8')), vkey)
  const [, sizeLine, rootLine] = text.split('\n')
  const size = Number(sizeLine)
  let checked = 0
  const leaves: Uint8Array[] = []
  for (let n = 0; n * TILE_WIDTH < size; n++) {
    const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH)
    const full = width === TILE_WIDTH
    const bundle = await object(`${base}/tile/entries/${tileIndex(n)}${full ? '' : `.p/${width}`}`, full ? FULL : 'public, max-age=10')
    for (let at = 0; at < bundle.length;) {
      const length = bundle[at]! * 256 + bundle[at + 1]!
      leaves.push(leafHash(bundle.subarray(at + 2, at + 2 + length)))
      at += 2 + length
    }
    expect(leaves.length).toBe(n * TILE_WIDTH + width)
    if (full) checked++
  }
  expect(Buffer.from(merkleRoot(leaves)).toString('base64')).toBe(rootLine)
  // Level l's hashes are the roots of the tree's complete subtrees of 256^l leaves.
  let hashes = leaves
  for (let level = 0; hashes.length > 0; level++) {
    for (let n = 0; n * TILE_WIDTH < hashes.length; n++) {
      const width = Math.min(TILE_WIDTH, hashes.length - n * TILE_WIDTH)
      const full = width === TILE_WIDTH
      const tile = await object(`${base}/tile/${level}/${tileIndex(n)}${full ? '' : `.p/${width}`}`, full ? FULL : 'public, max-age=10')
      expect(Buffer.from(tile)).toEqual(Buffer.concat(hashes.slice(n * TILE_WIDTH, n * TILE_WIDTH + width)))
      if (full) checked++
    }
    const up: Uint8Array[] = []
    for (let i = 0; (i + 1) * TILE_WIDTH <= hashes.length; i++) up.push(merkleRoot(hashes.slice(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)))
    hashes = up
  }
  return { size, checked }
}

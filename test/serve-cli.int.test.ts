import { createHash } from 'node:crypto'
import { Agent, type IncomingMessage, request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Cosignature, openCheckpoint, parseVerifierKey, verifyCosignatures } from '@annal/note'
import { Ledger } from '@annal/store'
import { hexToBytes, verifyInclusion } from '@annal/tlog'
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { killStarted, startAnnal as start } from './process.js'

const directories: string[] = []

afterEach(async () => {
  await killStarted()
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

const BANNER = /try:\n[\s\S]*proof\/inclusion/

async function dataDirectory(prefix = 'annal-serve-cli-'): Promise<string> {
  const data = await mkdtemp(join(tmpdir(), prefix))
  directories.push(data)
  return data
}

/** The URL the banner says the server listens on. */
function bannerUrl(banner: string): string {
  return /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
}

/** The ready-made token the banner prints for `role`. */
function bannerToken(banner: string, role: string): string {
  return new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!
}

/** Polls `check` every 20 ms, for up to 10 s. */
async function until(check: () => boolean): Promise<void> {
  for (const started = Date.now(); !check();) {
    if (Date.now() - started > 10_000) throw new Error('not within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('annal serve, as a real process', () => {
  it('--dev: prints tokens that work, serves verifiable proofs, stops cleanly, keeps the data', async () => {
    const data = await dataDirectory()
    const server = start(['serve', '--dev', '--data', data, '--port', '0'], BANNER)
    const banner = (await server.matched).input
    expect(banner).toContain('Not for production')
    const url = bannerUrl(banner)
    const token = (role: string) => bannerToken(banner, role)
    const verifier = parseVerifierKey(/log "audit" verifier key: (\S+)/.exec(banner)![1]!)

    const appended = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{"actor":"alice","action":"login"}',
      headers: { authorization: `Bearer ${token('appender')}`, 'content-type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    const { index, id } = await appended.json() as { index: number; id: string }
    const checkpoint = openCheckpoint(await (await fetch(`${url}/v1/logs/audit/checkpoint`)).text(), [verifier])
    const proof = await (await fetch(`${url}/v1/logs/audit/proof/inclusion?index=${index}&tree_size=${checkpoint.size}`)).json() as { proof: string[] }
    verifyInclusion(index, checkpoint.size, hexToBytes(id), proof.proof.map(hexToBytes), checkpoint.rootHash)

    const refused = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{}', headers: { authorization: `Bearer ${token('reader')}`, 'content-type': 'application/json' },
    })
    expect(refused.status).toBe(403)
    expect(refused.headers.get('www-authenticate')).toContain('insufficient_scope')

    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    const again = start(['serve', '--dev', '--data', data, '--port', '0'], BANNER)
    const againBanner = (await again.matched).input
    const entry = await fetch(`${bannerUrl(againBanner)}/v1/logs/audit/entries/${index}`, {
      headers: { authorization: `Bearer ${bannerToken(againBanner, 'reader')}` },
    })
    expect(entry.status).toBe(200)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  })

  it('refuses production mode without an issuer, in one sentence, exit code 2', async () => {
    const run = start(['serve', '--data', await dataDirectory()], /$^/)
    expect(await run.exited).toBe(2)
    expect(run.output().stderr.trim().split('\n')).toEqual([
      'annal: production mode needs --issuer and --audience (or --dev for a local trial).',
    ])
  })

  it('refuses --policy without witnesses, in one sentence, exit code 2', async () => {
    const run = start(['serve', '--dev', '--data', await dataDirectory(), '--port', '0', '--policy', '1'], /$^/)
    expect(await run.exited).toBe(2)
    expect(run.output().stderr.trim().split('\n')).toEqual([
      'annal: --policy needs witnesses: give --witness, ANNAL_WITNESSES or witnesses in the config file.',
    ])
    const malformed = start(['serve', '--dev', '--data', await dataDirectory(), '--port', '0'], /$^/, { ANNAL_WITNESSES: 'foo@http://127.0.0.1:1' })
    expect(await malformed.exited).toBe(2)
    expect(malformed.output().stderr.trim().split('\n')).toEqual(["annal: ANNAL_WITNESSES: the witness's verifier key is malformed."])
  })

  it('submits checkpoints to a witness given by --witness and serves them cosigned', async () => {
    const witnessData = await dataDirectory('annal-serve-witness-')
    const data = await dataDirectory()
    // The log's key exists only once the server has started, so start it once to learn it.
    const first = start(['serve', '--dev', '--data', data, '--port', '0'], /log "audit" verifier key: (\S+)\n/)
    const logKey = (await first.matched)[1]!
    first.child.kill('SIGTERM')
    await first.exited
    const witness = start(['witness', 'serve', '--data', witnessData, '--name', 'witness.example/w', '--log', logKey],
      /listening on (\S+)\nverifier key: (\S+)\n/)
    const [, witnessUrl, witnessKey] = await witness.matched
    const server = start(['serve', '--dev', '--data', data, '--port', '0', '--witness', `${witnessKey}@${witnessUrl}`, '--policy', '1'],
      BANNER)
    const banner = (await server.matched).input
    const url = bannerUrl(banner)
    const appender = bannerToken(banner, 'appender')
    // The log is witnessed once it is given a policy.
    const witnessed = await fetch(`${url}/v1/logs/audit/witnessing`, {
      method: 'PUT', body: '{"witnessing":{},"reason":"one witness"}',
      headers: { authorization: `Bearer ${bannerToken(banner, 'admin')}`, 'content-type': 'application/json' },
    })
    expect(witnessed.status).toBe(200)
    const appended = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{"actor":"bob"}', headers: { authorization: `Bearer ${appender}`, 'content-type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    let cosignatures: Cosignature[] = []
    for (let i = 0; i < 100 && cosignatures.length === 0; i++) {
      const response = await fetch(`${url}/v1/logs/audit/checkpoint`)
      if (response.status === 200) {
        const checkpoint = openCheckpoint(await response.text(), [parseVerifierKey(logKey)])
        if (checkpoint.size >= 1) cosignatures = verifyCosignatures(checkpoint, [parseVerifierKey(witnessKey!)])
      }
      if (cosignatures.length === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(cosignatures).toHaveLength(1)
    server.child.kill('SIGTERM')
    witness.child.kill('SIGTERM')
    expect([await server.exited, await witness.exited]).toEqual([0, 0])
  })

  it('--dev --port 0: the resource identifier and the tokens\' audience are the bound URL', async () => {
    const server = start(['serve', '--dev', '--data', await dataDirectory(), '--port', '0'], BANNER)
    const banner = (await server.matched).input
    const url = bannerUrl(banner)
    expect(new URL(url).port).not.toBe('0')
    expect(banner).not.toContain('127.0.0.1:0')
    const metadata = await (await fetch(`${url}/.well-known/oauth-protected-resource`)).json() as { resource: string }
    expect(metadata.resource).toBe(url)
    const appender = bannerToken(banner, 'appender')
    expect(decodeJwt(appender).aud).toBe(url)
    const appended = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body: '{"actor":"dana"}', headers: { authorization: `Bearer ${appender}`, 'content-type': 'application/json' },
    })
    expect(appended.status).toBe(201)
    const challenge = await fetch(`${url}/v1/logs/audit/entries`, { method: 'POST', body: '{}' })
    expect(challenge.headers.get('www-authenticate')).toContain(`resource_metadata="${url}/.well-known/oauth-protected-resource"`)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })

  it('on SIGTERM stops accepting, answers an append whose body is still arriving, and keeps it', async () => {
    const data = await dataDirectory()
    const server = start(['serve', '--dev', '--data', data, '--port', '0'], BANNER)
    const banner = (await server.matched).input
    const url = new URL(bannerUrl(banner))
    const body = JSON.stringify({ actor: 'erin', action: 'slow upload', note: 'x'.repeat(4096) })
    const half = Math.floor(body.length / 2)
    // A keep-alive connection, as clients keep them: the stopping server must end it after the
    // answer, or the idle connection would hold the exit until Node's keep-alive timeout.
    const agent = new Agent({ keepAlive: true })
    const upload = request({
      agent, host: url.hostname, port: url.port, path: '/v1/logs/audit/entries', method: 'POST', headers: {
        authorization: `Bearer ${bannerToken(banner, 'appender')}`, 'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        // The server answers 100 Continue once it has parsed the headers: the request is then in flight.
        expect: '100-continue',
      },
    })
    const response = new Promise<IncomingMessage>((resolve, reject) => upload.on('response', resolve).on('error', reject))
    const inFlight = new Promise((resolve) => upload.once('continue', resolve))
    upload.flushHeaders()
    await inFlight
    await new Promise((resolve) => upload.write(body.slice(0, half), resolve))

    server.child.kill('SIGTERM')
    // Printed once the listener is closed.
    await until(() => server.output().stdout.includes('annal: stopping'))
    await expect(fetch(`${url.origin}/healthz`)).rejects.toThrow()
    upload.end(body.slice(half))
    const answer = await response
    let text = ''
    for await (const chunk of answer) text += chunk
    expect(answer.statusCode).toBe(201)
    const { index, id, object } = JSON.parse(text) as { index: number; id: string; object: string }
    expect(object).toBe(`sha256:${createHash('sha256').update(body).digest('hex')}`)
    expect(await server.exited).toBe(0)
    agent.destroy()

    const ledger = await Ledger.open(data)
    try {
      const entry = await ledger.log('audit').entry(index)
      expect(entry.id).toBe(id)
      expect(JSON.parse(new TextDecoder().decode(entry.data))).toMatchObject({ object: { hash: object, size: Buffer.byteLength(body) } })
    } finally {
      await ledger.close()
    }
  })
})

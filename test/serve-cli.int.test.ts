import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { hexToBytes, verifyInclusion } from '@annal/tlog'
import { afterEach, describe, expect, it } from 'vitest'

const bin = createRequire(import.meta.url).resolve('@annal/cli/package.json').replace(/package\.json$/, 'dist/main.js')
const directories: string[] = []

afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

function start(args: string[], ready: RegExp) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const matched = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ready} in: ${stdout}${stderr}`)), 30_000)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (ready.test(stdout)) {
        clearTimeout(timer)
        resolve(stdout)
      }
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    void exited.then(() => reject(new Error(`exited early: ${stderr}`)))
  })
  matched.catch(() => undefined)
  return { child, matched, exited, stderr: () => stderr }
}

describe('annal serve, as a real process', () => {
  it('--dev: prints tokens that work, serves verifiable proofs, stops cleanly, keeps the data', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-serve-cli-'))
    directories.push(data)
    const server = start(['serve', '--dev', '--data', data, '--port', '0'], /try:\n[\s\S]*proof\/inclusion/)
    const banner = await server.matched
    expect(banner).toContain('Not for production')
    const url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
    const token = (role: string) => new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!
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
    const again = start(['serve', '--dev', '--data', data, '--port', '0'], /try:\n[\s\S]*proof\/inclusion/)
    const url2 = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(await again.matched)![1]!
    const entry = await fetch(`${url2}/v1/logs/audit/entries/${index}`, {
      headers: { authorization: `Bearer ${/reader +\([^)]*\), valid 24 h:\n  (\S+)/.exec(await again.matched)![1]!}` },
    })
    expect(entry.status).toBe(200)
    again.child.kill('SIGTERM')
    expect(await again.exited).toBe(0)
  })

  it('refuses production mode without an issuer, in one sentence, exit code 2', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-serve-cli-'))
    directories.push(data)
    const run = start(['serve', '--data', data], /$^/)
    expect(await run.exited).toBe(2)
    expect(run.stderr().trim().split('\n')).toEqual(['annal: production mode needs --issuer, --audience and --jwks-url (or --dev for a local trial).'])
  })
})

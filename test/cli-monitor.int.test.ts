// `annal monitor` as a real process against `annal serve --dev`: it follows the log until
// SIGTERM, and a second run resumes from the state file without a gap or a repeat.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { annalBin, killStarted, startAnnal } from './process.js'

const exec = promisify(execFile)
const directories: string[] = []

afterEach(async () => {
  await killStarted()
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

describe('annal monitor, as a real process', () => {
  it('prints new entries until SIGTERM, then resumes where it stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'annal-cli-monitor-'))
    directories.push(dir)
    const server = startAnnal(['serve', '--dev', '--data', join(dir, 'data'), '--port', '0'], /try:\n[\s\S]*proof\/inclusion/)
    const banner = (await server.matched).input
    const url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
    const token = (role: string) => new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!
    const key = /log "audit" verifier key: (\S+)/.exec(banner)![1]!
    const append = async (n: number) => {
      const response = await fetch(`${url}/v1/logs/audit/entries`, {
        method: 'POST', body: JSON.stringify({ actor: 'alice', n }),
        headers: { authorization: `Bearer ${token('appender')}`, 'content-type': 'application/json' },
      })
      expect(response.status).toBe(201)
    }
    for (let n = 0; n < 3; n++) await append(n)
    const args = ['monitor', '--url', url, '--log', 'audit', '--key', key, '--state', join(dir, 'audit.state')]
    const env = { ANNAL_TOKEN: token('reader') }

    const following = startAnnal([...args, '--interval', '0.2'], /^2 [0-9a-f]{12} .*\n/m, env)
    await following.matched
    following.child.kill('SIGTERM')
    expect(await following.exited).toBe(0)
    const lines = following.output().stdout.trim().split('\n')
    expect(lines.map((line) => line.split(' ')[0])).toEqual(['0', '1', '2'])
    expect(lines[0]).toMatch(/^0 [0-9a-f]{12} \d{4}-\d\d-\d\dT[^ ]+ dev-appender application\/json \d+ bytes$/)

    for (let n = 3; n < 5; n++) await append(n)
    const resumed = await exec(process.execPath, [annalBin, ...args, '--once', '--json'], { env: { ...process.env, ...env } })
    const entries = resumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { index: number; envelope: { type: string } })
    expect(entries.map((entry) => entry.index)).toEqual([3, 4])
    expect(entries[0]!.envelope.type).toBe('annal.event/v1')
  })
})

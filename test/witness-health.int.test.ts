// Witnessing health through a real `annal serve` process and a real witness (runWitness on
// 127.0.0.1): GET /v1/logs/{log} shows the witness cosigning, failing and back, and serve prints
// one warning line when it has failed past the threshold and one line when it recovers.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import { type RunningWitness, runWitness } from '@annal/witness'
import { afterEach, describe, expect, it } from 'vitest'
import { killStarted, startAnnal } from './process.js'

const directories: string[] = []
let witness: RunningWitness | undefined

afterEach(async () => {
  await witness?.close()
  await killStarted()
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

const WARNING = /^annal: warning: witness w1\.health\.test has failed for log audit since \S+Z \(request failed\); its cosignatures wait$/gm
const RECOVERED = /^annal: witness w1\.health\.test cosigns log audit again \(size 2\), after failing since \S+Z$/gm

/** Polls `probe` every 50 ms until `done` holds, for up to 30 s (backoff grows while the witness is down). */
async function until<T>(probe: () => T | Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('witnessing health', () => {
  it('shows a witness that is down, then back, and says so once each way', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'annal-witness-health-'))
    directories.push(directory)
    const data = join(directory, 'ledger')
    // The log exists before the witness starts, which needs its key.
    const ledger = await Ledger.open(data)
    const logKey = (await ledger.createLog('audit')).verifierKey
    await ledger.close()
    const startWitness = async (listen: string) => {
      witness = await runWitness({ data: join(directory, 'w1'), name: 'w1.health.test', logs: [logKey], listen })
      return witness
    }
    const first = await startWitness('127.0.0.1:0')
    const server = startAnnal(['serve', '--dev', '--data', data, '--port', '0', '--witness', `${first.verifierKey}@${first.url}`,
      '--witness-alert-after', '300'], /try:\n/)
    const banner = (await server.matched).input
    const url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
    const token = (role: string) => new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n  (\\S+)`).exec(banner)![1]!
    expect(banner).toContain('1 witness(es) configured; no log is witnessed until it is given a policy')
    const send = (method: string, path: string, role: string, body: string) => fetch(`${url}${path}`, {
      method, body, headers: { authorization: `Bearer ${token(role)}`, 'content-type': 'application/json' },
    })
    expect((await send('PUT', '/v1/logs/audit/witnessing', 'admin', '{"witnessing":{},"reason":"health test"}')).status).toBe(200)
    const health = async () => ((await (await fetch(`${url}/v1/logs/audit`)).json()) as { witnessing: any }).witnessing
    const stderr = () => server.output().stderr

    expect((await send('POST', '/v1/logs/audit/entries', 'appender', '{"n":1}')).status).toBe(201)
    expect(await until(health, (h) => h.witnesses[0].cosigned_size === 1)).toEqual({
      k: 1, policy_met_size: 1, witnesses: [{ name: 'w1.health.test', configured: true, verifier_key: first.verifierKey, cosigned_size: 1,
        failures: 0, last_error: null, last_error_at: null, failing_since: null }],
    })

    const port = new URL(first.url).port
    await first.close()
    witness = undefined
    expect((await send('POST', '/v1/logs/audit/entries', 'appender', '{"n":2}')).status).toBe(201)
    await until(stderr, (text) => text.match(WARNING) !== null)
    const down = (await health()).witnesses[0]
    expect(down).toMatchObject({ cosigned_size: 1, last_error: 'request failed', last_error_at: expect.any(String),
      failing_since: expect.any(String) })
    // A further failure after the warning prints nothing more.
    await until(health, (h) => h.witnesses[0].failures > down.failures)
    expect(stderr().match(WARNING)).toHaveLength(1)
    expect((await health()).policy_met_size).toBe(1)

    await startWitness(`127.0.0.1:${port}`)
    const back = await until(health, (h) => h.witnesses[0].cosigned_size === 2)
    expect(back).toMatchObject({ policy_met_size: 2, witnesses: [{ failures: 0, failing_since: null, last_error: 'request failed',
      last_error_at: expect.any(String) }] })
    await until(stderr, (text) => text.match(RECOVERED) !== null)
    expect([stderr().match(WARNING), stderr().match(RECOVERED)].map((lines) => lines?.length)).toEqual([1, 1])
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})

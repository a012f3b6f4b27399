// An append with an Idempotency-Key survives kill -9 of `annal serve`: the retry after a restart
// gets the first answer, and the log holds the events once.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import { afterEach, expect, it } from 'vitest'
import { killStarted, startAnnal as start } from './process.js'

const BANNER = /try:\n[\s\S]*proof\/inclusion/
let data: string | undefined

afterEach(async () => {
  await killStarted()
  if (data !== undefined) await rm(data, { recursive: true, force: true })
})

async function serve(directory: string): Promise<{ url: string; token: string; kill: () => Promise<unknown> }> {
  const server = start(['serve', '--dev', '--data', directory, '--port', '0'], BANNER)
  const banner = (await server.matched).input
  return {
    url: /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!,
    token: /appender +\([^)]*\), valid 24 h:\n {2}(\S+)/.exec(banner)![1]!,
    kill: () => {
      server.child.kill('SIGKILL')
      return server.exited
    },
  }
}

it('replays the first answer after kill -9 and a restart, appending nothing again', async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-idempotency-crash-'))
  const append = (url: string, token: string, body: string, type: string) => fetch(`${url}/v1/logs/audit/entries`, {
    method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': type, 'idempotency-key': `key-${type}` },
  })
  const batch = '{"actor":"alice"}\n{"actor":"bob"}\n'
  let server = await serve(data)
  const first = [await append(server.url, server.token, '{"actor":"carol"}', 'application/json'),
    await append(server.url, server.token, batch, 'application/x-ndjson')]
  expect(first.map((response) => response.status)).toEqual([201, 201])
  const answers = await Promise.all(first.map((response) => response.text()))
  await server.kill()

  // A new process, and a new token for the same subject from the new dev issuer.
  server = await serve(data)
  const retried = [await append(server.url, server.token, '{"actor":"carol"}', 'application/json'),
    await append(server.url, server.token, batch, 'application/x-ndjson')]
  expect(retried.map((response) => [response.status, response.headers.get('idempotent-replayed')])).toEqual([[201, 'true'], [201, 'true']])
  expect(await Promise.all(retried.map((response) => response.text()))).toEqual(answers)
  await server.kill()

  const ledger = await Ledger.open(data)
  try {
    expect(ledger.log('audit').size).toBe(3)
    const records = (await ledger.log('access').entries(0, ledger.log('access').size))
      .map((entry) => JSON.parse(new TextDecoder().decode(entry.data)) as Record<string, unknown>)
      .filter((record) => record.route === '/v1/logs/:log/entries')
    expect(records.map((record) => record.replayed ?? false)).toEqual([false, false, true, true])
  } finally {
    await ledger.close()
  }
})

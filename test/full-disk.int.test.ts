// `annal serve` as a real process on a real filesystem that fills up: a 16 MiB tmpfs under
// steady NDJSON load until writes fail, then grown to 64 MiB as an operator would. The server
// must say so once on stderr, refuse writes with 503 and Retry-After, stay alive (/healthz) but
// not ready (/readyz), keep serving checkpoints and proofs, take appends again once there is
// room without a restart, say that once too, and hold every acknowledged entry afterwards.
// Mounting a tmpfs needs root (CI runs as root); without it the test says so as its skip reason.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { openCheckpoint, parseVerifierKey } from '@annal/note'
import { smallFilesystem } from '@annal/storage/testing'
import { Ledger } from '@annal/store'
import { hexToBytes, verifyInclusion } from '@annal/tlog'
import { afterEach, expect, it } from 'vitest'
import { killStarted, startAnnal as start } from './process.js'

const MIB = 2 ** 20
const BANNER = /try:\n[\s\S]*proof\/inclusion/
const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  // The server first: a filesystem still held open would only be unmounted lazily.
  await killStarted()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Polls `check` every 50 ms until it holds; throws after `seconds`. */
async function until(what: string, check: () => boolean | Promise<boolean>, seconds = 20): Promise<void> {
  for (const deadline = Date.now() + seconds * 1000; !(await check());) {
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

it('a full filesystem: refused with 503 and said once, proofs still served, appends resume once it grows', async (ctx) => {
  const filesystem = await smallFilesystem(16 * MIB)
  if ('unavailable' in filesystem) return ctx.skip(filesystem.unavailable)
  cleanups.push(() => filesystem.remove())
  const data = join(filesystem.directory, 'ledger')
  const server = start(['serve', '--dev', '--data', data, '--port', '0'], BANNER)
  const banner = (await server.matched).input
  const url = /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!
  const appender = new RegExp('appender +\\([^)]*\\), valid 24 h:\\n  (\\S+)').exec(banner)![1]!
  const verifier = parseVerifierKey(/log "audit" verifier key: (\S+)/.exec(banner)![1]!)
  const stderr = () => server.output().stderr
  const said = (pattern: RegExp) => stderr().split('\n').filter((line) => pattern.test(line))

  const acknowledged: { index: number; id: string }[] = []
  /** One NDJSON append of `lines` distinct events; its entries are kept once acknowledged. */
  const append = async (lines: number): Promise<Response> => {
    const body = Array.from({ length: lines }, () => JSON.stringify({ actor: 'load', pad: randomBytes(48).toString('hex') })).join('\n')
    const response = await fetch(`${url}/v1/logs/audit/entries`, {
      method: 'POST', body, headers: { authorization: `Bearer ${appender}`, 'content-type': 'application/x-ndjson' },
    })
    if (response.status === 201) {
      for (const line of (await response.text()).trim().split('\n')) {
        const { index, id } = JSON.parse(line) as { index: number; id: string }
        acknowledged.push({ index, id })
      }
    }
    return response
  }

  // Steady load until the filesystem is full.
  let refused: Response | undefined
  for (let request = 0; request < 1000 && refused === undefined; request++) {
    const response = await append(500)
    if (response.status !== 201) refused = response
  }
  expect(refused?.status).toBe(503)
  expect(refused!.headers.get('retry-after')).toBe('5')
  expect(refused!.headers.get('content-type')).toBe('application/problem+json')
  expect(await refused!.json()).toMatchObject({ code: 'STORAGE_UNWRITABLE', title: 'The ledger cannot write now; retry later' })
  expect(acknowledged.length).toBeGreaterThan(0)

  const cannotWrite = new RegExp(`^annal: the ledger in ${data} cannot write: .*No space left on device.*\\(ENOSPC\\)`)
  await until('stderr says the ledger cannot write', () => said(cannotWrite).length > 0)
  const again = await append(1)
  expect([again.status, again.headers.get('retry-after')]).toEqual([503, '5'])
  const readyz = await fetch(`${url}/readyz`)
  expect(readyz.status).toBe(503)
  expect(await readyz.json()).toEqual({ status: 'not ready', reasons: [expect.stringMatching(/^storage: writes fail since \S+: ENOSPC$/)] })
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
  // Reads go on: the checkpoint, and a verifiable proof of the last entry acknowledged.
  const checkpoint = openCheckpoint(await (await fetch(`${url}/v1/logs/audit/checkpoint`)).text(), [verifier])
  const last = acknowledged.at(-1)!
  expect(checkpoint.size).toBeGreaterThan(last.index)
  const proof = await (await fetch(`${url}/v1/logs/audit/proof/inclusion?index=${last.index}&tree_size=${checkpoint.size}`)).json() as { proof: string[] }
  verifyInclusion(last.index, checkpoint.size, hexToBytes(last.id), proof.proof.map(hexToBytes), checkpoint.rootHash)
  expect(said(cannotWrite)).toHaveLength(1)

  // Room again: appends resume in the same process.
  await filesystem.resize(64 * MIB)
  await until('an append is taken again', async () => (await append(1)).status === 201)
  for (let request = 0; request < 5; request++) expect((await append(500)).status).toBe(201)
  expect(server.child.exitCode).toBe(null)
  expect(said(new RegExp(`^annal: the ledger in ${data} can write again after \\d+ s; `))).toHaveLength(1)
  expect(said(cannotWrite)).toHaveLength(1)
  expect((await fetch(`${url}/readyz`)).status).toBe(200)

  server.child.kill('SIGTERM')
  expect(await server.exited).toBe(0)
  // Every acknowledged entry, once, at its index.
  const ledger = await Ledger.open(data)
  try {
    const log = ledger.log('audit')
    expect(new Set(acknowledged.map(({ id }) => id)).size).toBe(acknowledged.length)
    expect(acknowledged.every(({ index }) => index < log.size)).toBe(true)
    const byIndex = new Map(acknowledged.map(({ index, id }) => [index, id]))
    const stored = await log.entries(0, log.size)
    expect(stored.filter((entry) => byIndex.has(entry.index) && byIndex.get(entry.index) !== entry.id)).toEqual([])
    expect((await ledger.fsck('audit')).problems).toEqual([])
  } finally {
    await ledger.close()
  }
})

import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseEvidence } from '@annal/client'
import { Ledger } from '@annal/store'
import { bytesToHex, defaultHasher } from '@annal/tlog'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { serveCommand } from '../serve.js'
import { testLedger, type TestLedger } from '../testing/ledger.js'

// Five: a consistency proof from a size that is a power of two cannot show another old tree.
const events = Array.from({ length: 5 }, (_, i) => `{"event":${i}}`)
let t: TestLedger
let fork: string

// A second ledger signing log main with the same key: the same origin, another tree.
beforeAll(async () => {
  t = await testLedger(events)
  fork = await mkdtemp(join(tmpdir(), 'annal-cli-monitor-fork-'))
  const created = await Ledger.open(fork, { originPrefix: 'annal.test' })
  await created.createLog('main')
  await created.close()
  await copyFile(join(t.data, 'keys', 'main.key'), join(fork, 'keys', 'main.key'))
  const ledger = await Ledger.open(fork, { originPrefix: 'annal.test' })
  for (let i = 0; i < 7; i++) await ledger.log('main').append([new TextEncoder().encode(`fork ${i}`)])
  await ledger.close()
})

afterAll(async () => {
  await t?.remove()
  if (fork !== undefined) await rm(fork, { recursive: true, force: true })
})

/** `annal serve --dev` on `data`, in this process: its URL and reader token, and how to stop it. */
async function serving(data: string) {
  const banner: string[] = []
  let stop = (): void => undefined
  let ready = (): void => undefined
  const listening = new Promise<void>((resolve) => (ready = resolve))
  const stopped = serveCommand(['--dev', '--data', data, '--port', '0'], (line) => {
    banner.push(line)
    if (line.includes('/proof/inclusion?index=0')) ready()
  }, new Promise<void>((resolve) => (stop = resolve)))
  await Promise.race([listening, stopped])
  const text = banner.join('\n')
  return {
    url: /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)![1]!,
    reader: /reader +\([^)]*\), valid 24 h:\n {2}(\S+)/.exec(text)![1]!,
    close: async () => {
      stop()
      await stopped
    },
  }
}

async function run(args: readonly string[], token?: string) {
  const io = memoryIo({ cwd: t.cwd, env: token === undefined ? {} : { ANNAL_TOKEN: token } })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

const id = (i: number) => bytesToHex(defaultHasher.leaf(t.entries[i]!)).slice(0, 12)

describe('annal monitor', () => {
  let server: Awaited<ReturnType<typeof serving>> | undefined

  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('prints each new entry once, resuming from its state file, and exits 1 with the evidence of a fork', async () => {
    server = await serving(t.data)
    const args = ['monitor', '--url', server.url, '--key', t.verifierKey, '--state', 'main.state', '--once']
    const first = await run(args, server.reader)
    expect([first.code, first.stderr]).toEqual([0, ''])
    expect(first.stdout).toBe(events.map((event, i) => `${i} ${id(i)} ${event}\n`).join(''))
    const again = await run([...args, '--json'], server.reader)
    expect([again.code, again.stdout]).toEqual([0, ''])
    await server.close()

    // The same origin and key, another tree: the saved checkpoint (size 5) and the fork's (size 7) cannot both be true.
    server = await serving(fork)
    const forked = await run(['monitor', '--url', server.url, '--key', t.verifierKey, '--state', 'main.state', '--once'], server.reader)
    expect([forked.code, forked.stdout]).toEqual([1, ''])
    expect(forked.stderr).toMatch(/^SECURITY ERROR\n[^]*\nold:\n\tannal\.test\/main\n\t5\n[^]*\nnew:\n\tannal\.test\/main\n\t7\n[^]*proof of misbehavior:\n\t/)
    expect(forked.stderr).toMatch(/\nannal: the evidence is saved in .*main\.state\.evidence\nannal: .*\(SPLIT_VIEW\)\.\n$/)
    const saved = parseEvidence(await readFile(join(t.cwd, 'main.state.evidence'), 'utf8'))
    expect(saved.old).toMatch(/^annal\.test\/main\n5\n/)
    expect(saved.new).toMatch(/^annal\.test\/main\n7\n/)
    expect(JSON.parse(await readFile(join(t.cwd, 'main.state'), 'utf8'))).toMatchObject({ next: 5 })
  })

  it('exits 2 for a command line to fix', async () => {
    const base = ['monitor', '--url', 'http://127.0.0.1:9', '--state', 's']
    expect((await run(base)).stderr).toMatch(/^annal: a monitor verifies every checkpoint against a policy: pass --policy FILE or --key VKEY\.\n$/)
    for (const [args, reason] of [
      [['monitor', '--key', t.verifierKey, '--state', 's'], /this command talks to a server: pass --url/],
      [['monitor', '--url', 'http://127.0.0.1:9', '--key', t.verifierKey], /required option '--state <file>' not specified/],
      [[...base, '--key', t.verifierKey, '--interval', '0'], /--interval "0" must be a positive number of seconds/],
      [[...base, '--key', t.verifierKey, '--interval', '1e3'], /--interval "1e3" must be a positive number of seconds/],
    ] as const) {
      const { code, stderr } = await run(args)
      expect([code, stderr.trim().split('\n')]).toEqual([2, [expect.stringMatching(reason)]])
    }
  })
})

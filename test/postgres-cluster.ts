// Several real `annal serve --dev` processes on one PostgreSQL database, sharing one data
// directory (the dev issuer and the logs' keys), and what the tests of them check: that every
// acknowledged entry is in the log once, that there is one tree, and that every checkpoint an
// append was answered with is the stored one of its size and consistent with the latest.
import { PostgresDriver } from '@annal/storage-postgres'
import { Ledger } from '@annal/store'
import { bytesToHex } from '@annal/tlog'
import { expect } from 'vitest'
import { startAnnal } from './process.js'

const BANNER = /try:\n[\s\S]*proof\/inclusion/

export interface Server {
  readonly url: string
  /** The dev banner's tokens by role. */
  readonly tokens: { readonly appender: string; readonly reader: string; readonly admin: string }
  readonly stdout: () => string
  readonly stderr: () => string
  kill(): Promise<unknown>
}

/** Starts `annal serve --dev` on the ledger in `data` kept in `database`; resolves once it serves. */
export async function serve(data: string, database: string): Promise<Server> {
  const server = startAnnal(['serve', '--dev', '--data', data, '--database', database, '--port', '0'], BANNER)
  const banner = (await server.matched).input
  const token = (role: string) => new RegExp(`${role} +\\([^)]*\\), valid 24 h:\\n {2}(\\S+)`).exec(banner)![1]!
  return {
    url: /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)![1]!,
    tokens: { appender: token('appender'), reader: token('reader'), admin: token('admin') },
    stdout: () => server.output().stdout,
    stderr: () => server.output().stderr,
    kill: () => {
      server.child.kill('SIGKILL')
      return server.exited
    },
  }
}

/** An append the server answered 201: an entry and the checkpoint that holds it. */
export interface Acknowledged {
  readonly index: number
  readonly id: string
  readonly object: string
  readonly checkpoint: { readonly size: number; readonly root: string }
}

/** POSTs events to the `audit` log: one JSON event, or an NDJSON batch of several. */
export async function append(server: Server, events: readonly unknown[], headers: Record<string, string> = {}): Promise<Response> {
  const batch = events.length > 1
  return fetch(`${server.url}/v1/logs/audit/entries`, {
    method: 'POST',
    body: batch ? events.map((event) => `${JSON.stringify(event)}\n`).join('') : JSON.stringify(events[0]),
    headers: {
      authorization: `Bearer ${server.tokens.appender}`, 'content-type': batch ? 'application/x-ndjson' : 'application/json', ...headers,
    },
  })
}

/** The entries a 201 answer acknowledges (a line each for a batch). */
export async function acknowledged(response: Response): Promise<Acknowledged[]> {
  const text = await response.text()
  expect(response.status, text).toBe(201)
  return text.trim().split('\n').map((line) => JSON.parse(line) as Acknowledged)
}

/**
 * Appends from `clients` loops to each server until each loop has made `requests` requests, a
 * JSON event or an NDJSON batch by turns. Requests that fail (a server or the database killed
 * under them) are not acknowledged and are left out; the loop goes on at its server until it
 * has made its requests or `stop` says so.
 */
export async function load(servers: readonly Server[], options: {
  readonly clients: number; readonly requests: number; readonly tag: string; readonly stop?: () => boolean
}): Promise<Acknowledged[]> {
  const out: Acknowledged[] = []
  await Promise.all(servers.flatMap((server, s) => Array.from({ length: options.clients }, async (_, c) => {
    for (let r = 0; r < options.requests && options.stop?.() !== true; r++) {
      const count = r % 3 === 2 ? 1 + (r % 5) : 1
      const events = Array.from({ length: count }, (_, e) => ({ tag: options.tag, server: s, client: c, request: r, event: e }))
      try {
        const response = await append(server, events)
        if (response.status === 201) out.push(...await acknowledged(response))
        else await response.body?.cancel()
      } catch {
        // The server went away under the request: nothing was acknowledged.
      }
    }
  })))
  return out
}

/**
 * Opens the ledger as a third process would and checks it: fsck of both logs (every stored
 * checkpoint consistent with the ones before it and the head), every acknowledged entry at its
 * index once, and every acknowledged checkpoint the stored one of its size.
 */
export async function checkLedger(data: string, database: string, acks: readonly Acknowledged[]): Promise<{ size: number }> {
  const ledger = await Ledger.open(data, { driver: await PostgresDriver.open(database) })
  try {
    for (const name of ['audit', 'access']) {
      const report = await ledger.fsck(name)
      expect(report.problems, name).toEqual([])
    }
    const log = ledger.log('audit')
    const entries = await log.entries(0, log.size)
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(entries.length)
    for (const ack of acks) {
      expect(entries[ack.index]?.id, `entry ${ack.index}`).toBe(ack.id)
      const stored = await log.checkpoint(ack.checkpoint.size)
      const root = bytesToHex(Uint8Array.from(atob(stored.split('\n')[2]!), (c) => c.charCodeAt(0)))
      expect(root, `checkpoint ${ack.checkpoint.size}`).toBe(ack.checkpoint.root)
    }
    return { size: log.size }
  } finally {
    await ledger.close()
  }
}

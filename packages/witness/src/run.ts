import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair, parseSignerKey, parseVerifierKey } from '@annal/note'
import { DEFAULT_WRITE_BUFFER_BYTES, LevelDriver, RecoveringDriver, makeDirectory, probeDirectory, writeKeyFile, type WriteHealth } from '@annal/storage'
import { Webhook } from './alert.js'
import { createAdminApp, createWitnessApp } from './app.js'
import type { CheckStatus } from './checks.js'
import { GossipLoop, type PeerStatus } from './gossip.js'
import { WitnessMetrics, metricsApp } from './metrics.js'
import { Witness, type WitnessLogConfig } from './witness.js'

/** A log's verifier key (named after its origin), and optionally its tlog-tiles URL. */
export type RunWitnessLog = string | { readonly verifierKey: string; readonly url?: string }

export interface RunWitnessOptions {
  /** The data directory: `witness.key` (mode 0600) and `db/` (LevelDB). Created if missing. */
  readonly data: string
  /** `host:port`, `[v6]:port` or `:port` (loopback). Default `127.0.0.1:0`, any free port. */
  readonly listen?: string
  /** The witness's name: its key is created with it on first start, and must match later. */
  readonly name: string
  /**
   * Verifier keys of the logs to witness; each key's name is its log's origin. With a `url`
   * (WitnessLogConfig.url), checkpoints of other sizes are checked against the log's tiles.
   */
  readonly logs: readonly RunWitnessLog[]
  readonly clock?: () => Date
  /** Peer witnesses' base URLs, pulled from (GET /v1/gossip) every gossipIntervalMs. */
  readonly peers?: readonly string[]
  /** Default 30,000 ms. */
  readonly gossipIntervalMs?: number
  /** Limit on one pull. Default 10,000 ms. */
  readonly gossipTimeoutMs?: number
  /** Where split-view alerts are POSTed (JSON), best effort. */
  readonly webhook?: string
  /** Limit on one alert. Default 5,000 ms. */
  readonly webhookTimeoutMs?: number
  /** A loopback `host:port` for the operator's routes (createAdminApp); none if absent. */
  readonly admin?: string
  /** A `host:port` for `GET /metrics` (Prometheus text format), a listener of its own; no metrics if absent. */
  readonly metrics?: string
  /** Limit on one tile request of a consistency check. Default 10,000 ms. */
  readonly checkTimeoutMs?: number
  /** Pause before the first retry of a failed check (doubling). Default 5,000 ms. */
  readonly checkRetryMs?: number
  /**
   * Longest a whole request (headers and body) may take, in ms, on either listener; slower ones
   * are cut off with Node's bare 408, so stalled uploads cannot hold connections. Headers must
   * arrive within the smaller of this and 10,000 ms. Default 30,000, as the server's.
   */
  readonly requestTimeoutMs?: number
  /**
   * Longest a request body may take to arrive once a route reads it, in ms; slower is 408
   * BODY_TIMEOUT, a problem the caller can read. Keep it below requestTimeoutMs. Default 20,000.
   */
  readonly bodyTimeoutMs?: number
  /**
   * Hears each change of the database's write health: a write that failed for a reason outside
   * Annal (writes are refused meanwhile), its recovery (the database is reopened and checked by
   * itself once it can write), or recovery stopped for good. `annal witness serve` says each on
   * stderr. Must not throw.
   */
  readonly onStorageHealth?: (health: WriteHealth) => void
}

export interface RunningWitness {
  /** `http://host:port`, with no trailing slash: both the submission and monitoring prefix. */
  readonly url: string
  /** The witness's verifier key (type 0x04). */
  readonly verifierKey: string
  /** `http://host:port` of the operator's routes, if `admin` was given. */
  readonly adminUrl: string | undefined
  /** `http://host:port` of `GET /metrics`, if `metrics` was given. */
  readonly metricsUrl: string | undefined
  /** The witness itself: evidence(), clearEvidence(origin), observe(note, source), ... */
  readonly witness: Witness
  /** How pulling from each peer went. */
  gossipStatus(): PeerStatus[]
  /** How the consistency checks went, per log with a URL. */
  checkStatus(): CheckStatus[]
  /** Stops gossip and checks, stops listening, waits for alerts in flight, then closes the database. */
  close(): Promise<void>
}

const KEY_FILE = 'witness.key'

/** The witness signer key in `data`, created (type 0x04, named `name`) on first start. */
async function loadOrCreateKey(data: string, name: string): Promise<string> {
  const path = join(data, KEY_FILE)
  try {
    await writeKeyFile(path, `${generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).signerKey}\n`, { exclusive: true })
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error
  }
  const signerKey = (await readFile(path, 'utf8')).trimEnd()
  if (parseSignerKey(signerKey).name !== name) throw new RangeError(`the key in ${path} has another name`)
  return signerKey
}

/** Splits `host:port`, `[v6]:port`, `:port`; an empty host is 127.0.0.1. RangeError otherwise. */
export function parseListen(listen: string): { readonly host: string; readonly port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):([0-9]{1,5})$/.exec(listen)
  const port = Number(match?.[3])
  if (match === null || port > 65535) throw new RangeError('listen must be host:port')
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port }
}

/**
 * The logs for verifier keys named after their origins; keys sharing a name share a log, and
 * at most one URL (RangeError if they give two).
 */
function logsFromKeys(logs: readonly RunWitnessLog[]): WitnessLogConfig[] {
  const byOrigin = new Map<string, { verifierKeys: string[]; url: string | undefined }>()
  for (const log of logs) {
    const { verifierKey, url } = typeof log === 'string' ? { verifierKey: log, url: undefined } : log
    const { name } = parseVerifierKey(verifierKey)
    const entry = byOrigin.get(name) ?? { verifierKeys: [], url: undefined }
    if (url !== undefined && entry.url !== undefined && url !== entry.url) throw new RangeError('a log is given two URLs')
    byOrigin.set(name, { verifierKeys: [...entry.verifierKeys, verifierKey], url: url ?? entry.url })
  }
  return [...byOrigin].map(([origin, { verifierKeys, url }]) => (url === undefined ? { origin, verifierKeys } : { origin, verifierKeys, url }))
}

function listen(server: ServerType): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.once('listening', () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}

/** Serves `fetch` on `address` (host:port); resolves with the server and its URL. */
async function serveOn(fetchApp: (request: Request) => Response | Promise<Response>, address: string,
    requestTimeout: number, loopbackOnly = false): Promise<{ server: ServerType; url: string }> {
  const { host, port } = parseListen(address)
  if (loopbackOnly && !/^(?:127\.[0-9.]+|::1|localhost)$/.test(host)) throw new RangeError('admin must listen on loopback')
  const serverOptions = {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, 10_000),
    // How often Node looks for requests past their timeout; its default is 30 s.
    connectionsCheckingInterval: Math.min(1_000, requestTimeout),
  }
  const server = serve({ fetch: fetchApp, hostname: host, port, serverOptions })
  const info = await listen(server).catch((error: unknown) => {
    server.close()
    throw error
  })
  const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address
  return { server, url: `http://${shown}:${info.port}` }
}

function closeServer(server: ServerType): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()))
  ;(server as { closeIdleConnections?: () => void }).closeIdleConnections?.()
  return closed
}

/**
 * Starts a witness on `options.listen` over the data directory: the key is created on first
 * start, the database opened in `db/`; gossip with `peers`, alerts to `webhook`, the
 * operator's routes on `admin` and metrics on `metrics` if given. Throws DATABASE_LOCKED if
 * another process has the directory, KEY_MALFORMED or RangeError for bad keys, names, URLs or addresses.
 */
export async function runWitness(options: RunWitnessOptions): Promise<RunningWitness> {
  parseListen(options.listen ?? '127.0.0.1:0')
  const requestTimeout = options.requestTimeoutMs ?? 30_000
  if (!Number.isSafeInteger(requestTimeout) || requestTimeout < 1) throw new RangeError('requestTimeoutMs must be a positive integer')
  const logs = logsFromKeys(options.logs)
  await makeDirectory(options.data, 0o700)
  const signerKey = await loadOrCreateKey(options.data, options.name)
  const metrics = options.metrics === undefined ? undefined : new WitnessMetrics(join(options.data, 'db'))
  const path = join(options.data, 'db')
  const open = () => LevelDriver.open(path)
  const driver = new RecoveringDriver(await open(), {
    // Reopened once there is room for what reopening writes (its log replayed into a table).
    reopen: open, probe: () => probeDirectory(path, DEFAULT_WRITE_BUFFER_BYTES),
    onWrite: metrics?.wrote, onHealth: options.onStorageHealth,
  })
  const servers: ServerType[] = []
  let created: Witness | undefined
  try {
    let webhook: Webhook | undefined
    const witness = new Witness({ signerKey, logs, driver, clock: options.clock, onEvidence: (e) => webhook?.send(e),
      checks: { timeoutMs: options.checkTimeoutMs, retryMs: options.checkRetryMs } })
    created = witness
    if (options.webhook !== undefined) {
      webhook = new Webhook({ url: options.webhook, witness, timeoutMs: options.webhookTimeoutMs })
    }
    const gossip = new GossipLoop(witness, {
      peers: options.peers ?? [], intervalMs: options.gossipIntervalMs, timeoutMs: options.gossipTimeoutMs,
    })
    metrics?.bind(witness)
    const app = createWitnessApp(witness, { bodyTimeoutMs: options.bodyTimeoutMs, metrics })
    const main = await serveOn(app.fetch, options.listen ?? '127.0.0.1:0', requestTimeout)
    servers.push(main.server)
    const admin = options.admin === undefined ? undefined
      : await serveOn(createAdminApp(witness).fetch, options.admin, requestTimeout, true)
    if (admin !== undefined) servers.push(admin.server)
    const metricsServer = metrics === undefined ? undefined : await serveOn(metricsApp(metrics).fetch, options.metrics!, requestTimeout)
    if (metricsServer !== undefined) servers.push(metricsServer.server)
    gossip.start()
    return {
      url: main.url,
      verifierKey: witness.verifierKey,
      adminUrl: admin?.url,
      metricsUrl: metricsServer?.url,
      witness,
      gossipStatus: () => gossip.status(),
      checkStatus: () => witness.checkStatus(),
      async close() {
        await gossip.close()
        await witness.close()
        await Promise.all(servers.map(closeServer))
        await webhook?.close()
        await driver.close()
      },
    }
  } catch (error) {
    for (const server of servers) server.close()
    await created?.close()
    await driver.close()
    throw error
  }
}

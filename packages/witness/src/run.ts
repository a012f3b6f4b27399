import { mkdir, readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { serve, type ServerType } from '@hono/node-server'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair, parseSignerKey, parseVerifierKey } from '@annal/note'
import { LevelDriver, writeKeyFile } from '@annal/store'
import { createWitnessApp } from './app.js'
import { Witness, type WitnessLogConfig } from './witness.js'

export interface RunWitnessOptions {
  /** The data directory: `witness.key` (mode 0600) and `db/` (LevelDB). Created if missing. */
  readonly data: string
  /** `host:port`, `[v6]:port` or `:port` (loopback). Default `127.0.0.1:0`, any free port. */
  readonly listen?: string
  /** The witness's name: its key is created with it on first start, and must match later. */
  readonly name: string
  /** Verifier keys of the logs to witness; each key's name is its log's origin. */
  readonly logs: readonly string[]
  readonly clock?: () => Date
}

export interface RunningWitness {
  /** `http://host:port`, with no trailing slash: both the submission and monitoring prefix. */
  readonly url: string
  /** The witness's verifier key (type 0x04). */
  readonly verifierKey: string
  /** Stops listening, then closes the database. */
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

/** The logs for verifier keys named after their origins; keys sharing a name share a log. */
function logsFromKeys(vkeys: readonly string[]): WitnessLogConfig[] {
  const byOrigin = new Map<string, string[]>()
  for (const vkey of vkeys) {
    const { name } = parseVerifierKey(vkey)
    byOrigin.set(name, [...(byOrigin.get(name) ?? []), vkey])
  }
  return [...byOrigin].map(([origin, verifierKeys]) => ({ origin, verifierKeys }))
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

/**
 * Starts a witness on `options.listen` over the data directory: the key is created on first
 * start, the database opened in `db/`. Throws DATABASE_LOCKED if another process has the
 * directory, KEY_MALFORMED or RangeError for bad keys, names or addresses.
 */
export async function runWitness(options: RunWitnessOptions): Promise<RunningWitness> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:0')
  const logs = logsFromKeys(options.logs)
  await mkdir(options.data, { recursive: true, mode: 0o700 })
  const signerKey = await loadOrCreateKey(options.data, options.name)
  const driver = await LevelDriver.open(join(options.data, 'db'))
  let server: ServerType | undefined
  try {
    const witness = new Witness({ signerKey, logs, driver, clock: options.clock })
    const app = createWitnessApp(witness)
    server = serve({ fetch: app.fetch, hostname: host, port })
    const address = await listen(server)
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
    const running = server
    return {
      url: `http://${shown}:${address.port}`,
      verifierKey: witness.verifierKey,
      async close() {
        const closed = new Promise<void>((resolve) => running.close(() => resolve()))
        ;(running as { closeIdleConnections?: () => void }).closeIdleConnections?.()
        await closed
        await driver.close()
      },
    }
  } catch (error) {
    server?.close()
    await driver.close()
    throw error
  }
}

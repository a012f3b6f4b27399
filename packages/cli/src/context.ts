import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { Ledger } from '@annal/store'
import { indexLedger } from '@annal/server'
import { Failure, UsageError } from './failure.js'
import type { Io } from './io.js'

/** The directory `annal init` makes and every command looks for, as Git looks for `.git`. */
export const LEDGER_DIR = '.annal'

/** The default log of a ledger made by `annal init`. */
export const DEFAULT_LOG = 'main'

/** Directory names longer than this are cut, to leave an origin room within its 256 bytes. */
const MAX_LOCAL_NAME = 64

/**
 * The origin prefix of a local ledger's new logs, `annal.local/<name>`, where the name is that of
 * the directory holding `.annal` (or of the ledger directory itself when it has another name),
 * made a valid origin: `annal init` in `~/audit-trail` makes the log `annal.local/audit-trail/main`.
 */
export function localOriginPrefix(ledgerDir: string): string {
  const dir = resolve(ledgerDir)
  const named = basename(dir) === LEDGER_DIR ? basename(dirname(dir)) : basename(dir)
  const name = named.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, MAX_LOCAL_NAME).replace(/^-+|-+$/g, '')
  return `annal.local/${name || 'ledger'}`
}

/** The options every command takes (before or after its name). */
export interface GlobalOptions {
  readonly json?: boolean
  readonly debug?: boolean
  readonly data?: string
  readonly log?: string
  readonly url?: string
}

/**
 * `.annal/config`: JSON. `url` names a server that commands go through instead of the local
 * database. Tokens are never kept here: they come from ANNAL_TOKEN.
 */
export interface LedgerConfig {
  readonly url?: string
  readonly log?: string
}

/** A server to go through: its base URL, the log's URL under it, and the bearer token if any. */
export interface Remote {
  readonly url: string
  readonly logUrl: string
  readonly token: string | undefined
}

/** @throws UsageError unless `url` is an http(s) URL. */
export function checkServerUrl(url: string): void {
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`the server URL ${url} must start with http:// or https://`)
}

/** Where a command finds its ledger, its log and its server, from flags, environment and `.annal/config`. */
export class Context {
  readonly io: Io
  readonly json: boolean
  readonly debug: boolean
  readonly #options: GlobalOptions
  #config: LedgerConfig | undefined

  constructor(io: Io, options: GlobalOptions) {
    this.io = io
    this.#options = options
    this.json = options.json === true
    this.debug = options.debug === true
  }

  /** The ledger directory: --data, ANNAL_DIR, or the nearest `.annal` from the working directory up. */
  findLedger(): string | undefined {
    // An empty variable counts as unset, as ANNAL_TOKEN's does.
    const named = this.#options.data ?? (this.io.env.ANNAL_DIR || undefined)
    if (named !== undefined) return resolve(this.io.cwd, named)
    for (let dir = resolve(this.io.cwd); ; dir = dirname(dir)) {
      if (existsSync(join(dir, LEDGER_DIR))) return join(dir, LEDGER_DIR)
      if (dirname(dir) === dir) return undefined
    }
  }

  /** @throws UsageError when there is no ledger to act on. */
  ledgerDir(): string {
    const dir = this.findLedger()
    if (dir === undefined) throw new UsageError(`no ${LEDGER_DIR} here or in a parent directory; run 'annal init' or pass --data DIR`)
    return dir
  }

  /** The log to act on: --log, the config's, or `main`. */
  async logName(): Promise<string> {
    return this.#options.log ?? (await this.config()).log ?? DEFAULT_LOG
  }

  /** `.annal/config`, or nothing when there is no ledger or no config file. @throws UsageError when it does not parse. */
  async config(): Promise<LedgerConfig> {
    if (this.#config !== undefined) return this.#config
    const dir = this.findLedger()
    const path = dir === undefined ? undefined : join(dir, 'config')
    if (path === undefined || !existsSync(path)) return (this.#config = {})
    let parsed: unknown
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'))
    } catch (error) {
      throw new UsageError(`cannot read ${path}: ${(error as Error).message}`)
    }
    const config = parsed as Record<string, unknown>
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)
        || !['url', 'log'].every((key) => config[key] === undefined || typeof config[key] === 'string')) {
      throw new UsageError(`${path} must hold a JSON object whose "url" and "log" are strings`)
    }
    return (this.#config = config as LedgerConfig)
  }

  /** The server to go through (--url, ANNAL_URL, then the config's url), or undefined to use the local database. */
  async remote(): Promise<Remote | undefined> {
    const url = this.#options.url ?? (this.io.env.ANNAL_URL || undefined) ?? (await this.config()).url
    if (url === undefined) return undefined
    checkServerUrl(url)
    const base = url.replace(/\/+$/, '')
    // A log's own URL (…/v1/logs/NAME) names the log too; a server's URL takes --log.
    const named = /^(.*)\/v1\/logs\/([^/]+)$/.exec(base)
    const logUrl = named !== null ? base : `${base}/v1/logs/${encodeURIComponent(await this.logName())}`
    return { url: named !== null ? named[1]! : base, logUrl, token: this.io.env.ANNAL_TOKEN || undefined }
  }

  /** The server to go through. @throws UsageError when none is named. */
  async requireRemote(): Promise<Remote> {
    const remote = await this.remote()
    if (remote === undefined) throw new UsageError('this command talks to a server: pass --url or set ANNAL_URL')
    return remote
  }

  /**
   * Runs `work` on the local ledger, opened for it and closed after.
   * @throws Failure when another process (a running `annal serve`) holds the database.
   */
  async withLedger<T>(work: (ledger: Ledger) => Promise<T>): Promise<T> {
    const dir = this.ledgerDir()
    if (!existsSync(join(dir, 'db'))) throw new UsageError(`${dir} holds no database; run 'annal init' there, or pass --url`)
    let ledger: Ledger
    try {
      ledger = await Ledger.open(dir, { originPrefix: localOriginPrefix(dir) })
    } catch (error) {
      if ((error as { code?: string }).code === 'DATABASE_LOCKED') {
        throw new Failure(`${dir} is in use by another process (a running 'annal serve'?); stop it, or go through it with --url`)
      }
      throw error
    }
    try {
      // Whatever `work` appends carries its search terms, as the server's appends do.
      await indexLedger(ledger)
      return await work(ledger)
    } finally {
      await ledger.close()
    }
  }

  /** Prints `value` as one line of JSON with --json, else runs `human` to print for people. */
  print(value: unknown, human: () => void): void {
    if (this.json) this.io.out(JSON.stringify(value))
    else human()
  }
}

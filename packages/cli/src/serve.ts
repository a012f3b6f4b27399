import {
  ACCESS_LOG, ALERTS_LOG, type AnnalApp, type AppOptions, type AuthOptions, type DashboardOptions, type DevToken, type RunningServer,
  appAlerts, appWitnessing, createApp, endStreams, recordRefusal, serve,
} from '@annal/server'
import type { S3Bucket, S3Target } from '@annal/publish'
import { isStorageError } from '@annal/storage'
import { PostgresDriver } from '@annal/storage-postgres'
import { Ledger } from '@annal/store'
import { TOKEN_CONFIG_KEYS, TOKEN_ENVIRONMENT, TOKEN_USAGE, checkAudience, tokenSettings, withIssuerKeys } from './commands/auth.js'
import { configCeilings, readConfig, readJwksFile } from './config.js'
import { type DevIssuer, ensureDevIssuer, recordDevUrl } from './dev-issuer.js'
import { localOriginPrefix } from './context.js'
import { Failure, UsageError } from './failure.js'
import { audienceOriginPrefix, checkedOriginPrefix } from './origins.js'
import {
  SERVE_CONFIG_KEYS, type SettingValues, isLoopback, listed, parseServeArgs, redactedDatabaseUrl, refuseProductionSettings,
} from './serve-settings.js'
import {
  WITNESS_CONFIG_KEYS, WITNESS_ENVIRONMENT, WITNESS_SERVE_USAGE, type WitnessSettings, alertLine, witnessSettings,
} from './serve-witnesses.js'
import { ALERT_CONFIG_KEYS, alertSettings } from './serve-alerts.js'
import { METRICS_USAGE, metricsAddress, serveMetrics } from './serve-metrics.js'
import { signalled } from './signals.js'
import {
  PUBLISH_CONFIG_KEYS, PUBLISH_ENVIRONMENT, PUBLISH_USAGE, openBucket, publishSettings, publisherFor, publishingLine,
} from './serve-publish.js'
import { DASHBOARD_USAGE, dashboardLink, dashboardOptions, dashboardWanted } from './serve-dashboard.js'
import { storageHealthReporter } from './storage-health.js'

export const SERVE_USAGE = `usage: annal serve [--dev] [--data DIR] [--database URL] [--host HOST] [--port N] [--origin-prefix P]
                   [--issuer URL --audience URI [--jwks-url URL | --jwks-file PATH]]
                   [--token-profile NAME] [--config FILE]
                   [--witness VKEY@URL ...] [--policy K] [--witness-alert-after MS]
                   [--publish s3://BUCKET[/PREFIX] [--publish-endpoint URL] [--publish-region R]
                    [--publish-path-style] [--publish-credentials FILE]]
                   [--metrics HOST:PORT] [--no-dashboard]

  --dev          a local trial: the nearest .annal, a dev token issuer kept in it, ready-made
                 tokens ('annal dev token' mints more). Not for production: refuses the
                 settings from --issuer to --algorithms, and warns off loopback.
  --data DIR     the ledger directory (default with --dev: .annal here or in a parent, else ./.annal)
  --database URL keep the ledger in PostgreSQL (postgres://user:password@host:port/database)
                 instead of LevelDB in DIR/db; the tables are created or migrated at start.
                 Several servers may share one database; each needs every log's key in DIR/keys
  --host HOST    default 127.0.0.1; anything else is reachable by other machines
  --port N       default 8080; 0 picks a free port
  --origin-prefix P  new logs' checkpoint origins are P/<log name>; default: the --audience URL's
                 host and path (annal.example.com/tenant-a), with --dev annal.local/<directory name>
  --issuer URL, --audience URI   the OAuth 2.0 authorization server whose JWT access tokens
                 are accepted, and this server's resource identifier (the tokens' aud)
  --jwks-url URL     the issuer's public keys (JWKS), fetched, cached and refetched for a new key id;
                 without it or --jwks-file, the jwks_uri of <issuer>/.well-known/openid-configuration.
                 Fetched once before listening: a start that cannot get usable keys exits 1
  --jwks-file PATH   or the keys in a local JWKS file, read at start
${TOKEN_USAGE}
  --config FILE  a JSON file with any of: data, database, host, port, originPrefix, issuer, audience,
                 jwksUrl, jwksFile, ${TOKEN_CONFIG_KEYS},
                 ${WITNESS_CONFIG_KEYS},
                 ${PUBLISH_CONFIG_KEYS},
                 ${ALERT_CONFIG_KEYS}, metrics, dashboard,
                 scopeCeilings ({"<client_id>": ["log:read", ...]}: each client's tokens are clamped
                 to at most these scopes; docs/operations.md); any other key is refused
${WITNESS_SERVE_USAGE}
${PUBLISH_USAGE}
${METRICS_USAGE}
${DASHBOARD_USAGE}
Environment: ANNAL_DATA, ANNAL_DATABASE, ANNAL_HOST, ANNAL_PORT, ANNAL_ORIGIN_PREFIX, ANNAL_ISSUER, ANNAL_AUDIENCE,
ANNAL_JWKS_URL, ANNAL_JWKS_FILE,
${TOKEN_ENVIRONMENT},
${WITNESS_ENVIRONMENT},
${PUBLISH_ENVIRONMENT}, ANNAL_METRICS, ANNAL_DASHBOARD.
Flags win over the environment, which wins over the config file.

Example:
  $ annal serve --dev --port 8080
`

interface ServeSettings {
  readonly data?: string
  readonly database?: string
  readonly host?: string
  readonly port?: number
  readonly originPrefix?: string
  readonly issuer?: string
  readonly audience?: string
  readonly jwksUrl?: string
  readonly jwksFile?: string
  readonly token: Pick<AuthOptions, 'tokenProfile' | 'algorithms'>
  readonly witnessing: WitnessSettings
  readonly scopeCeilings?: Record<string, string[]>
  readonly alerts: AppOptions['alerts']
  readonly metrics: string | undefined
  readonly publish: S3Target | undefined
  readonly dashboard: boolean
}

const DEV_ROLES = [
  { role: 'admin', scope: 'log:admin log:read log:append audit:read' },
  { role: 'appender', scope: 'log:append' },
  { role: 'reader', scope: 'log:read' },
  { role: 'auditor', scope: 'audit:read' },
] as const

/**
 * Where `annal serve` writes warnings (default: with its other output), its environment
 * (default: the process's), and how it finds the nearest ledger for --dev.
 */
export interface ServeIo {
  readonly err?: (line: string) => void
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly findLedger?: () => string | undefined
}

/**
 * `annal serve`: the HTTP API on one ledger until SIGINT or SIGTERM, then a graceful stop
 * (in-flight requests finish, appends are flushed, the database is closed).
 */
export async function serveCommand(args: readonly string[], out: (line: string) => void,
    stopped: Promise<unknown> = signalled(), io: ServeIo = {}): Promise<number> {
  const err = io.err ?? out
  const { dev, settings, data, originPrefix, auth, bucket } = await startSettings(args, io.env ?? process.env, io.findLedger ?? (() => undefined))
  const { database } = settings
  const host = settings.host ?? '127.0.0.1'
  const { witnesses, policy, alertAfterMs } = settings.witnessing
  const witnessing = {
    witnesses, ...(policy === undefined ? {} : { policy }),
    witnessing: { ...(alertAfterMs === undefined ? {} : { alertAfterMs }), onAlert: (alert) => err(alertLine(alert)) },
  } satisfies Partial<AppOptions>
  const ledger = await openLedger(data, originPrefix, database).catch((error: unknown) => {
    bucket?.close()
    throw error
  })
  const report = storageHealthReporter('the ledger', data, 'requests that write (appends, and the access record of every request with a token)', err)
  ledger.watch((event) => {
    if (event.kind === 'health') report(event.health)
  })
  try {
    // A dev ledger serves the logs it has; one with none (but the server's access log) gets a log to try.
    if (dev && ledger.logs().every((log) => log.name === ACCESS_LOG || log.name === ALERTS_LOG)) await ledger.createLog('audit')
    const devIssuer = dev ? await ensureDevIssuer(data) : undefined
    // Checked before listening: a dashboard that was never built stops the start, naming the fix.
    if (settings.dashboard) dashboardOptions()
    const late = lateApp()
    let app: AnnalApp | undefined
    let metrics: RunningServer | undefined
    const publisher = bucket === undefined ? undefined : publisherFor(bucket, ledger, () => app!, err)
    const running = await serve(late, {
      host, port: settings.port ?? 8080,
      onRefused: (refusal) => void (app === undefined ? undefined : recordRefusal(app, refusal)),
    })
    try {
      // Dev tokens name the server they are used on: the bound URL, noted for 'annal dev token'.
      if (devIssuer !== undefined) await recordDevUrl(data, running.url)
      const devTokens = devIssuer === undefined ? undefined : await issueDevTokens(running.url, devIssuer)
      const dashboard = settings.dashboard ? dashboardOptions(devTokens) : undefined
      app = await late.settle(createApp({
        ledger, auth: devIssuer?.auth(running.url) ?? auth!, ...witnessing, alerts: settings.alerts,
        ...(settings.scopeCeilings === undefined ? {} : { scopeCeilings: settings.scopeCeilings }),
        metrics: settings.metrics !== undefined, ...(publisher === undefined ? {} : { publishing: publisher }),
        ...(dashboard === undefined ? {} : { dashboard }),
      }))
      out(database === undefined ? `annal serving ${data} on ${running.url}`
        : `annal serving ${redactedDatabaseUrl(database)} (keys in ${data}) on ${running.url}`)
      out(`new logs' origins: ${originPrefix}/<log name>`)
      if (dashboard !== undefined && devTokens === undefined) out(`dashboard: ${dashboardLink(running.url, dashboard)}`)
      metrics = await serveMetrics(app, settings.metrics, out)
      if (publisher !== undefined) {
        publisher.start()
        out(publishingLine(bucket!.target))
      }
      if (witnesses.length > 0 && !ledger.logs().some((log) => appWitnessing(app!)?.policy(log.name) !== undefined)) {
        out(`${witnesses.length} witness(es) configured; no log is witnessed until it is given a policy (docs/witness.md)`)
      }
      // A warning, not a refusal: in a container, 0.0.0.0 is how the host reaches the server.
      if (devIssuer !== undefined && !isLoopback(host)) {
        err(`annal: warning: --dev on ${host} is reachable from other machines, and it accepts the dev token issuer's tokens, `
          + 'printed below; use --host 127.0.0.1 to keep a trial on this machine.')
      }
      if (devTokens !== undefined) printDevBanner(out, running.url, devTokens, ledger, dashboard)
      await stopped
      // Streams never end by themselves: ended first, they do not hold the close for its grace period.
      endStreams(app)
      // Said once the listener is closed: whoever reads it knows that no new request gets in.
      const closing = running.close()
      out('annal: stopping')
      await closing
    } finally {
      await running.close()
      await metrics?.close()
      await publisher?.close()
      bucket?.close()
      if (app !== undefined) await appWitnessing(app)?.close()
      if (app !== undefined) await appAlerts(app).close()
    }
  } finally {
    await ledger.close()
  }
  return 0
}

/**
 * A fetch handler that listens before its app exists, for an app whose settings name the bound
 * URL (the dev audience with --port 0). Requests that come first wait for `settle`.
 */
function lateApp(): { fetch: AnnalApp['fetch']; settle: (app: Promise<AnnalApp>) => Promise<AnnalApp> } {
  let resolve!: (app: Promise<AnnalApp>) => void
  const made = new Promise<AnnalApp>((settle) => { resolve = settle })
  // The caller reports a failure to make the app; a waiting request gets a 500 from the adaptor.
  made.catch(() => undefined)
  return {
    fetch: async (request, env, executionCtx) => (await made).fetch(request, env, executionCtx),
    settle: (app) => {
      resolve(app)
      return app
    },
  }
}

/** What a start needs, all checked before the ledger is opened. */
interface StartSettings {
  readonly dev: boolean
  readonly settings: ServeSettings
  readonly data: string
  readonly originPrefix: string
  /** Production mode's, with the issuer's keys; undefined with --dev. */
  readonly auth: AuthOptions | undefined
  /** The bucket to publish to, if any. */
  readonly bucket: S3Bucket | undefined
}

/**
 * The settings from the arguments, the environment and the config file.
 * @throws UsageError for any setting that cannot work, naming it; Failure when the issuer's keys
 *   cannot be had.
 */
async function startSettings(args: readonly string[], env: Readonly<Record<string, string | undefined>>,
    findLedger: () => string | undefined): Promise<StartSettings> {
  const values = parseServeArgs(args)
  const dev = values.dev === true
  const file = typeof values.config === 'string' ? await readConfig(values.config, SERVE_CONFIG_KEYS) : {}
  if (dev) refuseProductionSettings(values, env, file)
  const settings = await resolveSettings(values, env, file)
  const production = dev ? undefined : productionSettings(settings)
  const data = settings.data ?? (dev ? findLedger() ?? '.annal' : undefined)
  if (data === undefined) throw new UsageError('serve needs --data (or --dev for a local trial)')
  const originPrefix = settings.originPrefix !== undefined
    ? checkedOriginPrefix(settings.originPrefix, '--origin-prefix (ANNAL_ORIGIN_PREFIX, originPrefix in the config file)')
    : production !== undefined ? audienceOriginPrefix(production.audience) : localOriginPrefix(data)
  const auth = production === undefined ? undefined : await withIssuerKeys(await production.withKeys())
  const bucket = settings.publish === undefined ? undefined : await openBucket(settings.publish)
  return { dev, settings, data, originPrefix, auth, bucket }
}

async function resolveSettings(values: SettingValues,
    env: Readonly<Record<string, string | undefined>>, file: Record<string, unknown>): Promise<ServeSettings> {
  const pick = (flag: unknown, variable: string | undefined, fromFile: unknown): string | undefined =>
    typeof flag === 'string' ? flag : variable ?? (typeof fromFile === 'string' || typeof fromFile === 'number' ? String(fromFile) : undefined)
  const portText = pick(values.port, env.ANNAL_PORT, file.port)
  const port = portText === undefined ? undefined : Number(portText)
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError('--port must be 0-65535')
  return {
    data: pick(values.data, env.ANNAL_DATA, file.data),
    database: databaseUrl(pick(values.database, env.ANNAL_DATABASE, file.database)),
    host: pick(values.host, env.ANNAL_HOST, file.host),
    port,
    originPrefix: pick(values['origin-prefix'], env.ANNAL_ORIGIN_PREFIX, file.originPrefix),
    issuer: pick(values.issuer, env.ANNAL_ISSUER, file.issuer),
    audience: pick(values.audience, env.ANNAL_AUDIENCE, file.audience),
    jwksUrl: pick(values['jwks-url'], env.ANNAL_JWKS_URL, file.jwksUrl),
    jwksFile: pick(values['jwks-file'], env.ANNAL_JWKS_FILE, file.jwksFile),
    token: tokenSettings(values, env, file),
    witnessing: witnessSettings(values, env, file),
    scopeCeilings: configCeilings(file),
    alerts: await alertSettings(file, env),
    metrics: metricsAddress(values.metrics, env, file),
    publish: await publishSettings(values, env, file),
    dashboard: dashboardWanted(values['no-dashboard'], env, file),
  }
}

/**
 * Production mode's issuer and audience, checked, and its settings with the issuer's keys from a
 * JWKS file (read by `withKeys`), for withIssuerKeys to fetch or check.
 * @throws UsageError naming what is missing, for a bad audience, or for both JWKS sources at once.
 */
function productionSettings(settings: ServeSettings): { readonly audience: string; readonly withKeys: () => Promise<AuthOptions> } {
  const { issuer, audience, jwksUrl, jwksFile } = settings
  if (issuer === undefined || audience === undefined) {
    const missing = [...(issuer === undefined ? ['--issuer'] : []), ...(audience === undefined ? ['--audience'] : [])]
    throw new UsageError(`production mode needs ${listed(missing)} (or --dev for a local trial)`)
  }
  checkAudience(audience)
  if (jwksUrl !== undefined && jwksFile !== undefined) throw new UsageError('production mode takes --jwks-url or --jwks-file, not both')
  return {
    audience,
    withKeys: async () => ({
      issuer, audience, ...settings.token, ...(jwksFile === undefined ? { jwksUrl } : { jwks: await readJwksFile(jwksFile) }),
    }),
  }
}

/**
 * @throws UsageError unless a postgres:// (or postgresql://) URL, naming the setting without its value (it holds a password).
 */
function databaseUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  if (!/^postgres(?:ql)?:\/\/[^/]/.test(url) || !URL.canParse(url)) {
    throw new UsageError('--database (ANNAL_DATABASE, database in the config file) must be a postgres://user:password@host:port/database URL')
  }
  return url
}

/**
 * The ledger in `data`, on LevelDB in it, or on the PostgreSQL `database` with its keys in it.
 * @throws Failure naming the directory when another process holds it or it cannot be opened,
 *   or the database (its password hidden) when it cannot be reached or is of a newer Annal.
 */
async function openLedger(data: string, originPrefix: string, database: string | undefined): Promise<Ledger> {
  const driver = database === undefined ? undefined : await openDatabase(database)
  try {
    return await Ledger.open(data, { originPrefix, ...(driver === undefined ? {} : { driver }) })
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'DATABASE_LOCKED') {
      throw new Failure(`the ledger ${data} is open in another process (another 'annal serve'?); stop it, or give another --data`)
    }
    // A file system refusal (ENOTDIR, EACCES, ...): said with the ledger it concerns.
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new Failure(`cannot open the ledger ${data}: ${(error as Error).message}`)
    throw error
  }
}

async function openDatabase(url: string): Promise<PostgresDriver> {
  try {
    return await PostgresDriver.open(url)
  } catch (error) {
    const shown = redactedDatabaseUrl(url)
    if (isStorageError(error, 'DATABASE_UNSUPPORTED')) throw new Failure(`the database ${shown}: ${error.message}`)
    // The client's message names the host or the refusal (ECONNREFUSED, a failed login), never the password.
    throw new Failure(`cannot open the database ${shown}: ${(error as Error).message}; check --database and that PostgreSQL is running`)
  }
}

/** The ready-made tokens of a dev start, one per role, for `url`. */
async function issueDevTokens(url: string, dev: DevIssuer): Promise<DevToken[]> {
  return Promise.all(DEV_ROLES.map(async ({ role, scope }) =>
    ({ role, scope, token: await dev.issue({ audience: url, scope, subject: `dev-${role}`, ttl: '24h' }) })))
}

function printDevBanner(out: (line: string) => void, url: string, devTokens: readonly DevToken[], ledger: Ledger,
    dashboard: DashboardOptions | undefined): void {
  const logs = ledger.logs().filter((info) => info.name !== ACCESS_LOG && info.name !== ALERTS_LOG)
  const name = logs[0]!.name
  out('')
  out('DEV MODE: a dev token issuer kept in the ledger directory, and ready-made tokens. Not for production.')
  for (const info of logs) out(`log "${info.name}" verifier key: ${info.verifierKey}`)
  out('')
  const tokens: Record<string, string> = {}
  for (const { role, scope, token } of devTokens) {
    tokens[role] = token
    out(`${role.padEnd(9)} (${scope}), valid 24 h:\n  ${token}`)
  }
  out('')
  if (dashboard !== undefined) {
    out(`dashboard (signs in with these tokens; the link is this start's only): ${dashboardLink(url, dashboard)}`)
    out('')
  }
  out('try:')
  out(`  curl -s -X POST ${url}/v1/logs/${name}/entries -H 'Authorization: Bearer ${tokens.appender}' -H 'Content-Type: application/json' -d '{"actor":"alice","action":"login"}'`)
  out(`  curl -s '${url}/v1/logs/${name}/proof/inclusion?index=0'`)
}

import { parseArgs } from 'node:util'
import { ACCESS_LOG, type AnnalApp, type AppOptions, type RunningServer, type AuthOptions, appWitnessing, createApp, recordRefusal, serve } from '@annal/server'
import { Ledger } from '@annal/store'
import { TOKEN_CONFIG_KEYS, TOKEN_ENVIRONMENT, TOKEN_OPTIONS, TOKEN_USAGE, tokenSettings, withIssuerKeys } from './commands/auth.js'
import { readConfig, readJwksFile } from './config.js'
import { type DevIssuer, ensureDevIssuer, recordDevUrl } from './dev-issuer.js'
import {
  WITNESS_CONFIG_KEYS, WITNESS_ENVIRONMENT, WITNESS_OPTIONS, WITNESS_SERVE_USAGE, type WitnessSettings, alertLine, witnessSettings,
} from './serve-witnesses.js'
import { METRICS_OPTIONS, METRICS_USAGE, metricsAddress, serveMetrics } from './serve-metrics.js'
import { UsageError } from './failure.js'
import { signalled } from './signals.js'

export const SERVE_USAGE = `usage: annal serve [--dev] [--data DIR] [--host HOST] [--port N]
                   [--issuer URL --audience URI [--jwks-url URL | --jwks-file PATH]]
                   [--token-profile NAME] [--config FILE]
                   [--witness VKEY@URL ...] [--policy K] [--witness-alert-after MS]
                   [--metrics HOST:PORT]

  --dev          a local trial: the nearest .annal, a dev token issuer kept in it, ready-made
                 tokens ('annal dev token' mints more). Not for production.
  --data DIR     the ledger directory (default with --dev: .annal here or in a parent, else ./.annal)
  --host HOST    default 127.0.0.1; anything else is reachable by other machines
  --port N       default 8080; 0 picks a free port
  --issuer URL, --audience URI   the OAuth 2.0 authorization server whose JWT access tokens
                 are accepted, and this server's resource identifier (the tokens' aud)
  --jwks-url URL     the issuer's public keys (JWKS), fetched, cached and refetched for a new key id;
                 without it or --jwks-file, the jwks_uri of <issuer>/.well-known/openid-configuration.
                 Fetched once before listening: a start that cannot get usable keys exits 1
  --jwks-file PATH   or the keys in a local JWKS file, read at start
${TOKEN_USAGE}
  --config FILE  a JSON file with any of: data, host, port, issuer, audience, jwksUrl, jwksFile,
                 ${TOKEN_CONFIG_KEYS},
                 ${WITNESS_CONFIG_KEYS}, metrics
${WITNESS_SERVE_USAGE}
${METRICS_USAGE}
Environment: ANNAL_DATA, ANNAL_HOST, ANNAL_PORT, ANNAL_ISSUER, ANNAL_AUDIENCE, ANNAL_JWKS_URL,
ANNAL_JWKS_FILE,
${TOKEN_ENVIRONMENT},
${WITNESS_ENVIRONMENT}, ANNAL_METRICS.
Flags win over the environment, which wins over the config file.

Example:
  $ annal serve --dev --port 8080
`

interface ServeSettings {
  readonly data?: string
  readonly host?: string
  readonly port?: number
  readonly issuer?: string
  readonly audience?: string
  readonly jwksUrl?: string
  readonly jwksFile?: string
  readonly token: Pick<AuthOptions, 'tokenProfile' | 'algorithms'>
  readonly witnessing: WitnessSettings
  readonly metrics: string | undefined
}

const DEV_ROLES = [
  { role: 'admin', scope: 'log:admin log:read log:append audit:read' },
  { role: 'appender', scope: 'log:append' },
  { role: 'reader', scope: 'log:read' },
  { role: 'auditor', scope: 'audit:read' },
] as const

/** Where `annal serve` writes warnings (default: with its other output) and finds the nearest ledger for --dev. */
export interface ServeIo {
  readonly err?: (line: string) => void
  readonly findLedger?: () => string | undefined
}

/**
 * `annal serve`: the HTTP API on one ledger until SIGINT or SIGTERM, then a graceful stop
 * (in-flight requests finish, appends are flushed, the database is closed).
 */
export async function serveCommand(args: readonly string[], out: (line: string) => void,
    stopped: Promise<unknown> = signalled(), io: ServeIo = {}): Promise<number> {
  const err = io.err ?? out
  const findLedger = io.findLedger ?? (() => undefined)
  const values = parseServeArgs(args)
  const settings = await resolveSettings(values, process.env)
  const production = values.dev === true ? undefined : await productionAuth(settings)
  const data = settings.data ?? (production === undefined ? findLedger() ?? '.annal' : undefined)
  if (data === undefined) throw new UsageError('serve needs --data (or --dev for a local trial)')

  const { witnesses, policy, alertAfterMs } = settings.witnessing
  const witnessing = {
    witnesses, ...(policy === undefined ? {} : { policy }),
    witnessing: { ...(alertAfterMs === undefined ? {} : { alertAfterMs }), onAlert: (alert) => err(alertLine(alert)) },
  } satisfies Partial<AppOptions>
  const ledger = await Ledger.open(data)
  try {
    // A dev ledger serves the logs it has; one with none (but the server's access log) gets a log to try.
    if (production === undefined && ledger.logs().every((log) => log.name === ACCESS_LOG)) await ledger.createLog('audit')
    const dev = production === undefined ? await ensureDevIssuer(data) : undefined
    const late = lateApp()
    let app: AnnalApp | undefined
    let metrics: RunningServer | undefined
    const running = await serve(late, {
      host: settings.host ?? '127.0.0.1', port: settings.port ?? 8080,
      onRefused: (refusal) => void (app === undefined ? undefined : recordRefusal(app, refusal)),
    })
    try {
      // Dev tokens name the server they are used on: the bound URL, noted for 'annal dev token'.
      if (dev !== undefined) await recordDevUrl(data, running.url)
      app = await late.settle(createApp({
        ledger, auth: dev?.auth(running.url) ?? production!, ...witnessing, metrics: settings.metrics !== undefined,
      }))
      out(`annal serving ${data} on ${running.url}`)
      metrics = await serveMetrics(app, settings.metrics, out)
      if (witnesses.length > 0 && !ledger.logs().some((log) => appWitnessing(app!)?.policy(log.name) !== undefined)) {
        out(`${witnesses.length} witness(es) configured; no log is witnessed until it is given a policy (docs/witness.md)`)
      }
      if (dev !== undefined) await printDevBanner(out, running.url, dev, ledger)
      await stopped
      // Said once the listener is closed: whoever reads it knows that no new request gets in.
      const closing = running.close()
      out('annal: stopping')
      await closing
    } finally {
      await running.close()
      await metrics?.close()
      if (app !== undefined) await appWitnessing(app)?.close()
    }
  } finally {
    await ledger.close()
  }
  return 0
}

function parseServeArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      dev: { type: 'boolean', default: false },
      data: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
      issuer: { type: 'string' }, audience: { type: 'string' }, 'jwks-url': { type: 'string' }, 'jwks-file': { type: 'string' },
      config: { type: 'string' },
      ...WITNESS_OPTIONS,
      ...TOKEN_OPTIONS,
      ...METRICS_OPTIONS,
    },
    strict: true,
  }).values
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

async function resolveSettings(values: Record<string, string | string[] | boolean | undefined>,
    env: NodeJS.ProcessEnv): Promise<ServeSettings> {
  const file = typeof values.config === 'string' ? await readConfig(values.config) : {}
  const pick = (flag: unknown, variable: string | undefined, fromFile: unknown): string | undefined =>
    typeof flag === 'string' ? flag : variable ?? (typeof fromFile === 'string' || typeof fromFile === 'number' ? String(fromFile) : undefined)
  const portText = pick(values.port, env.ANNAL_PORT, file.port)
  const port = portText === undefined ? undefined : Number(portText)
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError('--port must be 0-65535')
  return {
    data: pick(values.data, env.ANNAL_DATA, file.data),
    host: pick(values.host, env.ANNAL_HOST, file.host),
    port,
    issuer: pick(values.issuer, env.ANNAL_ISSUER, file.issuer),
    audience: pick(values.audience, env.ANNAL_AUDIENCE, file.audience),
    jwksUrl: pick(values['jwks-url'], env.ANNAL_JWKS_URL, file.jwksUrl),
    jwksFile: pick(values['jwks-file'], env.ANNAL_JWKS_FILE, file.jwksFile),
    token: tokenSettings(values, env, file),
    witnessing: witnessSettings(values, env, file),
    metrics: metricsAddress(values.metrics, env, file),
  }
}

/**
 * @throws UsageError naming what is missing, for both JWKS sources at once, or for a bad JWKS
 *   file; Failure when the issuer's keys cannot be fetched.
 */
async function productionAuth(settings: ServeSettings): Promise<AuthOptions> {
  const { issuer, audience, jwksUrl, jwksFile } = settings
  const missing = [
    ...(issuer === undefined ? ['--issuer'] : []),
    ...(audience === undefined ? ['--audience'] : []),
  ]
  if (issuer === undefined || audience === undefined || missing.length > 0) {
    throw new UsageError(`production mode needs ${listed(missing)} (or --dev for a local trial)`)
  }
  if (jwksUrl !== undefined && jwksFile !== undefined) throw new UsageError('production mode takes --jwks-url or --jwks-file, not both')
  return withIssuerKeys({
    issuer, audience, ...settings.token, ...(jwksFile === undefined ? { jwksUrl } : { jwks: await readJwksFile(jwksFile) }),
  })
}

/** `a`, `a and b`, `a, b and c`. */
function listed(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

async function printDevBanner(out: (line: string) => void, url: string, dev: DevIssuer, ledger: Ledger): Promise<void> {
  const logs = ledger.logs().filter((info) => info.name !== ACCESS_LOG)
  const name = logs[0]!.name
  out('')
  out('DEV MODE: a dev token issuer kept in the ledger directory, and ready-made tokens. Not for production.')
  for (const info of logs) out(`log "${info.name}" verifier key: ${info.verifierKey}`)
  out('')
  const tokens: Record<string, string> = {}
  for (const { role, scope } of DEV_ROLES) {
    tokens[role] = await dev.issue({ audience: url, scope, subject: `dev-${role}`, ttl: '24h' })
    out(`${role.padEnd(9)} (${scope}), valid 24 h:\n  ${tokens[role]}`)
  }
  out('')
  out('try:')
  out(`  curl -s -X POST ${url}/v1/logs/${name}/entries -H 'Authorization: Bearer ${tokens.appender}' -H 'Content-Type: application/json' -d '{"actor":"alice","action":"login"}'`)
  out(`  curl -s '${url}/v1/logs/${name}/proof/inclusion?index=0'`)
}

import { randomUUID } from 'node:crypto'
import { isStoreError, type Ledger } from '@annal/store'
import { Hono } from 'hono'
import { AuthError, type AuthOptions, type Principal, TokenVerifier } from './auth.js'
import { accessLog } from './access-log.js'
import { Witnessing, type WitnessingOptions } from './witnessing.js'
import type { WitnessConfig } from './witness-config.js'
import { type WitnessPolicy, WitnessPolicies } from './witness-policy.js'
import { type AppEnv, type AuthState, DEFAULT_LIMITS, type Limits, MAX_JSON_DEPTH, type Services } from './context.js'
import { IdempotencyStore } from './idempotency.js'
import { challenge, credentials } from './credentials.js'
import { problemFor, problemResponse } from './problem.js'
import { accessRecordBytes } from './access-record.js'
import type { Refusal } from './serve.js'
import { adminRoutes } from './routes-admin.js'
import { entryRoutes } from './routes-entries.js'
import { publicRoutes } from './routes-public.js'
import { exportRoutes } from './routes-export.js'
import { searchRoutes } from './routes-search.js'
import { indexLedger } from './search-fields.js'
import { Reindexing } from './reindexing.js'
import { ACCESS_LOG } from './scopes.js'
import { ServerMetrics } from './metrics.js'
import { ReadinessCheck, readinessRoute } from './readiness.js'
import { ApiError } from './errors.js'
import { GovernanceState, MAX_SET_IDS } from './governance-state.js'
import { oldestAcceptedIat, setWindow } from './caep.js'
import type { GovernanceListener } from './governance.js'
import { type ScopeCeilings, ceilingSets, clamp } from './ceilings.js'
import { governanceRoutes } from './routes-governance.js'
import type { PublishingStatus } from './publishing.js'
import { Alerts, type AlertsOptions } from './alerts.js'
import { alertRoutes } from './routes-alerts.js'
import { governanceAlerts } from './governance-alerts.js'
import { EventStreams } from './event-streams.js'
import { streamRoutes } from './routes-stream.js'
import { type DashboardOptions, dashboardRoutes, loadDashboard } from './dashboard.js'

export interface AppOptions {
  /** An open ledger. The app never closes it. */
  readonly ledger: Ledger
  readonly auth: AuthOptions
  /** The time for token checks, envelopes and access records. Default: the system clock. */
  readonly clock?: () => Date
  readonly limits?: Partial<Limits>
  /**
   * The witnesses (C2SP tlog-witness) that logs' policies may name. Which logs are witnessed,
   * by which of them and how many, is each log's policy, kept in the ledger and set over HTTP
   * (see docs/api.md). A witnessed log's checkpoint endpoint serves the newest checkpoint that
   * meets its policy; other logs' are served as signed.
   */
  readonly witnesses?: readonly WitnessConfig[]
  /** Needs `witnesses`: the k of a log's policy that names none. Default: all of its witnesses. */
  readonly policy?: WitnessPolicy
  /** Polling, timeouts and alerts; see WitnessingOptions. */
  readonly witnessing?: Omit<WitnessingOptions, 'ledger' | 'witnesses' | 'policyOf'>
  /**
   * client_id → the most Annal scopes its tokens may carry: a token with more is clamped to
   * them (and its requests' access records list what was cut). Default: no ceilings.
   */
  readonly scopeCeilings?: ScopeCeilings
  /**
   * Told of every rotation, revocation (admin or pushed by the issuer), lifted revocation, clamped
   * token, and request refused for a revocation or a rotation: to raise alerts. It must not throw
   * or block; it is called after the records are written.
   */
  readonly onGovernanceEvent?: GovernanceListener
  /** Alert rules, webhooks and polling; see AlertsOptions and docs/operations.md. */
  readonly alerts?: AlertsOptions
  /** Keep Prometheus metrics, to be served by `metricsApp(appMetrics(app))` on a listener of their own. Default false. */
  readonly metrics?: boolean
  /** A publisher of the logs to object storage (@annal/publish), whose status the metrics show. */
  readonly publishing?: PublishingStatus
  /** Serve a dashboard's static files at `/` (annal serve passes @annal/dashboard's). Default none. */
  readonly dashboard?: DashboardOptions
}

export type AnnalApp = Hono<AppEnv>

/** The ledger table of the Idempotency-Key records. */
const IDEMPOTENCY_TABLE = 'idempotency'

const witnessings = new WeakMap<AnnalApp, Witnessing>()
const appAlertings = new WeakMap<AnnalApp, Alerts>()
const refusalRecorders = new WeakMap<AnnalApp, (refusal: Refusal) => Promise<void>>()
const metricsOf = new WeakMap<AnnalApp, ServerMetrics>()
const streamsOf = new WeakMap<AnnalApp, EventStreams>()

/**
 * Ends the app's server-sent event streams (alerts, log tails) and refuses new ones: call it
 * when the server starts to stop, so that its close does not wait out the grace period for
 * streams that never end. Their clients reconnect with Last-Event-ID.
 */
export function endStreams(app: AnnalApp): void {
  streamsOf.get(app)?.end()
}

/** The metrics of an app made with `metrics: true`. */
export function appMetrics(app: AnnalApp): ServerMetrics | undefined {
  return metricsOf.get(app)
}

/** The witnessing an app made for its `witnesses` (to read `status()` or `close()` it), if any. */
export function appWitnessing(app: AnnalApp): Witnessing | undefined {
  return witnessings.get(app)
}

/** The alerts an app follows the access log with (to `close()` it, or await `caughtUp()`). */
export function appAlerts(app: AnnalApp): Alerts {
  return appAlertings.get(app)!
}

/**
 * Records a request that the HTTP server refused before the app saw it (serve's `onRefused`) in
 * the app's access log. Never rejects: a record that cannot be written is lost, as the refusal
 * has been answered already.
 */
export async function recordRefusal(app: AnnalApp, refusal: Refusal): Promise<void> {
  await refusalRecorders.get(app)?.(refusal).catch(() => undefined)
}

/**
 * The Annal HTTP API as a Hono app (it does not listen; see `serve`). Creates the `access`
 * and `alerts` logs if the ledger lacks them, and starts following the access log (close it
 * with `appAlerts(app).close()` before the ledger).
 * @throws TypeError, RangeError for bad options.
 */
export async function createApp(options: AppOptions): Promise<AnnalApp> {
  const clock = options.clock ?? (() => new Date())
  const limits = { ...DEFAULT_LIMITS, ...options.limits }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`limits.${name} must be a positive integer`)
  }
  if (limits.jsonDepth > MAX_JSON_DEPTH) throw new RangeError(`limits.jsonDepth is at most ${MAX_JSON_DEPTH}`)
  const dashboard = options.dashboard === undefined ? undefined : await loadDashboard(options.dashboard)
  const searchFields = await indexLedger(options.ledger)
  const alerts = await Alerts.open(options.ledger, clock, options.alerts)
  const services: Services = {
    ledger: options.ledger,
    verifier: new TokenVerifier(options.auth, clock),
    clock,
    limits,
    idempotency: await IdempotencyStore.open(options.ledger.table(IDEMPOTENCY_TABLE), limits.idempotencyBytes, limits.idempotencyTtlMs, clock,
      options.ledger.shared),
    metadataUrl: resourceMetadataUrl(options.auth.audience),
    ...await witnessingServices(options),
    governance: await GovernanceState.load(options.ledger, clock, {
      oldestAccepted: (now) => oldestAcceptedIat(now, setWindow(options.auth)), maxKept: MAX_SET_IDS,
    }),
    ceilings: ceilingSets(options.scopeCeilings),
    onGovernanceEvent: governanceAlerts(alerts, options.onGovernanceEvent),
    alerts,
    reindexing: new Reindexing(options.ledger, searchFields),
    ...(options.publishing === undefined ? {} : { publishing: options.publishing }),
    streams: new EventStreams(limits.streams),
  }
  if (options.ledger.shared) followGovernance(services.governance, options.ledger)
  if (!options.ledger.logs().some((log) => log.name === ACCESS_LOG)) {
    await options.ledger.createLog(ACCESS_LOG).catch((error: unknown) => {
      if (!isStoreError(error, 'LOG_EXISTS')) throw error
    })
  }
  const app = new Hono<AppEnv>()
  if (options.metrics === true) {
    const metrics = new ServerMetrics(services)
    metricsOf.set(app, metrics)
    app.use('*', metrics.middleware)
  }
  app.use('*', async (c, next) => {
    const requestId = randomUUID()
    c.set('requestId', requestId)
    // Set before the route runs: setting headers on a finished response makes Hono rebuild it
    // through a Fetch Response, a cost that shows in every profile of an append.
    c.header('X-Request-Id', requestId)
    c.header('X-Content-Type-Options', 'nosniff')
    c.set('auth', await authenticate(services, c.req.raw))
    await next()
  })
  app.use('*', accessLog(services))
  app.onError((error, c) => {
    const body = problemFor(error)
    c.set('problemCode', body.code)
    return problemResponse(c, body, challenge(services.metadataUrl, error, c.get('requiredScope')))
  })
  app.notFound((c) => {
    // A token in the URL is refused wherever it is sent: the URL may be logged on the way.
    const { error } = c.get('auth')
    const refused = error?.code === 'TOKEN_REQUEST_MALFORMED' ? error : new ApiError('ROUTE_NOT_FOUND', 'no such route')
    const body = problemFor(refused)
    c.set('problemCode', body.code)
    return problemResponse(c, body, challenge(services.metadataUrl, refused, undefined))
  })
  refusalRecorders.set(app, async (refusal) => {
    await services.ledger.log(ACCESS_LOG).append([accessRecordBytes({
      time: clock(), requestId: refusal.requestId, method: refusal.method, status: refusal.status, code: refusal.code,
      remoteAddress: refusal.remoteAddress,
    })])
  })
  publicRoutes(app, services)
  readinessRoute(app, new ReadinessCheck(services))
  entryRoutes(app, services)
  adminRoutes(app, services)
  governanceRoutes(app, services)
  alertRoutes(app, services)
  appAlertings.set(app, services.alerts)
  services.alerts.start()
  searchRoutes(app, services)
  exportRoutes(app, services)
  streamRoutes(app, services)
  if (dashboard !== undefined) dashboardRoutes(app, dashboard, options.dashboard?.devSignIn)
  streamsOf.set(app, services.streams)
  services.reindexing.resume()
  if (services.witnessing !== undefined) {
    witnessings.set(app, services.witnessing)
    services.witnessing.start()
  }
  return app
}

/**
 * The logs' policies, the default k, and the Witnessing when there are witnesses or a log has a
 * policy (one whose witnesses are no longer configured is then reported, not silently dropped).
 * @throws RangeError for a policy without witnesses or a k above their number.
 */
async function witnessingServices(options: AppOptions): Promise<Pick<Services, 'policies' | 'defaultK' | 'witnessing'>> {
  const witnesses = options.witnesses ?? []
  const k = options.policy?.k
  if (k !== undefined && (!Number.isSafeInteger(k) || k < 1 || k > witnesses.length)) {
    throw new RangeError(witnesses.length === 0 ? 'a policy needs witnesses' : 'policy.k must be an integer from 1 to the number of witnesses')
  }
  const policies = await WitnessPolicies.load(options.ledger)
  const witnessing = witnesses.length === 0 && !policies.any ? undefined
    : new Witnessing({ ...options.witnessing, ledger: options.ledger, witnesses, policyOf: (log) => policies.get(log) })
  return { policies, defaultK: k, witnessing }
}

/** Reads and verifies the request's credentials; failures are kept for the route to throw. */
async function authenticate(services: Services, request: Request): Promise<AuthState> {
  const found = credentials(request)
  if (found.kind === 'none') return { credentials: false }
  if (found.kind === 'error') return { credentials: true, fingerprint: found.fingerprint, error: found.error, reason: found.reason }
  if (found.kind === 'other') return { credentials: true, reason: 'not_bearer' }
  try {
    return governed(services, await services.verifier.verify(found.token, found.fingerprint))
  } catch (error) {
    const reason = error instanceof AuthError ? error.reason : 'unexpected'
    const refused = error instanceof ApiError ? error : new ApiError('AUTH_UNAVAILABLE', 'token keys are unavailable', { cause: error })
    return { credentials: true, fingerprint: found.fingerprint, error: refused, reason }
  }
}

/**
 * A verified token as governance leaves it: refused when revoked (checked on every request, so a
 * cached token is refused as soon as it is revoked), clamped to its client's ceiling, and marked
 * with the rotated scopes it predates.
 */
function governed(services: Services, verified: Principal): AuthState {
  const revocation = services.governance.revocationOf(verified, services.clock().getTime())
  if (revocation !== undefined) {
    const error = new AuthError('TOKEN_INVALID', 'the access token was revoked', 'revoked')
    // The principal stays for the access record and the alert: who used a revoked token.
    return { credentials: true, fingerprint: verified.fingerprint, principal: verified, error, reason: error.reason, revocation: revocation.id }
  }
  const ceiling = verified.clientId === undefined ? undefined : services.ceilings.get(verified.clientId)
  const { principal, removed } = ceiling === undefined ? { principal: verified, removed: [] } : clamp(verified, ceiling)
  const stale = services.governance.staleScopes(principal)
  return {
    credentials: true, fingerprint: principal.fingerprint, principal,
    ...(removed.length === 0 ? {} : { clamped: removed }), ...(stale === undefined ? {} : { stale }),
  }
}

/**
 * RFC 9728 §3.1: the well-known path goes between the host and the resource's path.
 * @throws TypeError unless `resource` is an http(s) URL without query or fragment.
 */
export function resourceMetadataUrl(resource: string): string {
  const url = new URL(resource)
  if (!/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
    throw new TypeError('the resource identifier is an http(s) URL without query or fragment')
  }
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  return `${url.origin}/.well-known/oauth-protected-resource${path}`
}

/**
 * How often a server on a shared database reads the governance table again, in ms: a token
 * revoked or a scope rotated through another server is refused here within about this long.
 */
const GOVERNANCE_FOLLOW_MS = 1000

/** Rereads `governance` every GOVERNANCE_FOLLOW_MS until `ledger` is closed. */
function followGovernance(governance: GovernanceState, ledger: Ledger): void {
  const next = () => {
    setTimeout(() => {
      if (ledger.closed) return
      // A failed read (the database is down, say) is tried again at the next one.
      governance.reload().catch(() => undefined).finally(next)
    }, GOVERNANCE_FOLLOW_MS).unref()
  }
  next()
}

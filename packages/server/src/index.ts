/**
 * @module
 * The Annal HTTP API as a Hono app: appends and reads behind OAuth 2.0 scopes (RFC 9068 JWT
 * access tokens, verified with jose), every call recorded in the `access` log, C2SP
 * checkpoints, tiles and proofs for anyone, checkpoints submitted to witnesses. Start with
 * `createApp` and `serve`; docs/api.md has every route and scope.
 * @example
 * import { mkdtemp, rm } from 'node:fs/promises'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { Ledger } from '@annal/store'
 * import { createApp, serve } from '@annal/server'
 *
 * const directory = await mkdtemp(join(tmpdir(), 'annal-example-'))
 * const ledger = await Ledger.open(directory)
 * const app = await createApp({
 *   ledger, auth: { issuer: 'https://issuer.example', audience: 'https://annal.example/', jwks: { keys: [] } },
 * })
 * const running = await serve(app)                       // 127.0.0.1, an ephemeral port
 * try {
 *   const checkpoint = await fetch(`${running.url}/v1/logs/access/checkpoint`)
 *   if (checkpoint.status !== 401) throw new Error('the access log is not public')
 * } finally {
 *   await running.close()
 *   await ledger.close()
 *   await rm(directory, { recursive: true, force: true })
 * }
 */
export { API_ERROR_CODES, ApiError, isApiError } from './errors.js'
export type { ApiErrorCode } from './errors.js'
export { appAlerts, appMetrics, appWitnessing, createApp, endStreams, recordRefusal, resourceMetadataUrl } from './app.js'
export { DASHBOARD_CSP } from './dashboard.js'
export type { DashboardOptions, DevSignIn, DevToken } from './dashboard.js'
export type { ActivityBucket, ActivityCounts, ActivityKind } from './activity.js'
export { ALERT_RECORD_TYPE, Alerts } from './alerts.js'
export type { AlertsOptions } from './alerts.js'
export { DEFAULT_ALERT_RULES } from './alert-rules.js'
export type { AlertDraft, AlertRule, AlertRules, BurstRule, RateRule } from './alert-rules.js'
export type { PrincipalReview } from './scope-review.js'
export { signWebhook } from './webhooks.js'
export type { WebhookConfig, WebhookTiming } from './webhooks.js'
export { SPLIT_VIEW_TYPE } from './witness-evidence.js'
export { ServerMetrics, metricsApp } from './metrics.js'
export { servedCheckpoint } from './publishing.js'
export type { PublishedLog, PublishingStatus } from './publishing.js'
export { ReadinessCheck } from './readiness.js'
export type { Readiness } from './readiness.js'
export { Witnessing } from './witnessing.js'
export type { WitnessingOptions, ServedCheckpoint, WitnessStatus } from './witnessing.js'
export type { WitnessConfig } from './witness-config.js'
export type { LogWitnessing, WitnessAlert, WitnessHealth } from './witness-health.js'
export { WITNESSING_RECORD_TYPE } from './witness-policy.js'
export type { LogPolicy, WitnessPolicy } from './witness-policy.js'
export type { AnnalApp, AppOptions } from './app.js'
export { serve } from './serve.js'
export type { Refusal, RunningServer, ServeOptions } from './serve.js'
export { ASYMMETRIC_ALGORITHMS, AuthError, TokenVerifier, allowedAlgorithms, tokenFingerprint } from './auth.js'
export type { AuthOptions, Principal } from './auth.js'
export { explainToken } from './explain.js'
export { fetchIssuerKeys } from './issuer-keys.js'
export type { IssuerKeys, IssuerKeysOptions } from './issuer-keys.js'
export type { TokenExplanation, TokenRule } from './explain.js'
export { TOKEN_PROFILES, TOKEN_PROFILE_NAMES, tokenProfile } from './token-profile.js'
export type { ScopeClaim, TokenProfile, TokenProfileName } from './token-profile.js'
export { DEFAULT_LIMITS } from './context.js'
export type { AppEnv, Limits } from './context.js'
export { canonicalJson } from './canonical-json.js'
export { ACCESS_RECORD_TYPE } from './access-record.js'
export { ENVELOPE_TYPE } from './envelope.js'
export type { EnvelopePrincipal } from './envelope.js'
export { LOCAL_SCOPE, appendBodyEvents, appendLocalEvents } from './append.js'
export type { LocalAppend } from './append.js'
export { servedEntryJson } from './entry-json.js'
export { INDEXED_FIELDS_RECORD_TYPE, indexLedger, reindexLog } from './search-fields.js'
export { searchTerm } from './search-terms.js'
export type { TermFilter } from './search-terms.js'
export { entryRef } from './params.js'
export { PROBLEMS, ProblemError } from './problem.js'
export type { ProblemCode } from './problem.js'
export type { ProblemBody } from '@annal/http'
export { ACCESS_LOG, ALERTS_LOG, SCOPES } from './scopes.js'
export { GOVERNANCE_RECORD_TYPE } from './governance.js'
export type { GovernanceActor, GovernanceEvent, GovernanceListener, RevocationJson } from './governance.js'
export type { ScopeCeilings } from './ceilings.js'
export { SESSION_REVOKED, TOKEN_CLAIMS_CHANGE } from './caep.js'
export type { Scope } from './scopes.js'

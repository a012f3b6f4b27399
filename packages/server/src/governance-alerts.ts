import type { Alerts } from './alerts.js'
import type { GovernanceEvent, GovernanceListener } from './governance.js'

/**
 * A governance listener that raises the alerts the access records alone do not show, then tells
 * `next` (the app's own listener) too: a revoked or rotated token used (`revoked_token`) and a
 * token clamped to its client's ceiling (`scope_ceiling`), once per token and cause, however many
 * requests it makes. Admin changes are raised from their access records (`admin_change`).
 */
export function governanceAlerts(alerts: Alerts, next: GovernanceListener | undefined): GovernanceListener {
  return (event) => {
    const raised = alertOf(event)
    // The event is in the access log already: an alert that cannot be written is lost, not the request.
    if (raised !== undefined) void alerts.raise(raised.draft, raised.dedupe).catch(() => undefined)
    next?.(event)
  }
}

function alertOf(event: GovernanceEvent): { draft: Parameters<Alerts['raise']>[0]; dedupe: string } | undefined {
  if (event.kind !== 'revoked-token-used' && event.kind !== 'rotated-scope-used' && event.kind !== 'scopes-clamped') return undefined
  const { token } = event
  const subject = {
    ...(token.clientId === undefined ? {} : { client_id: token.clientId }), ...(token.sub === undefined ? {} : { sub: token.sub }),
  }
  const base = { time: event.time.getTime(), subject }
  const tokenDetails = { request_id: event.requestId, token_sha256: token.fingerprint, ...(token.jti === undefined ? {} : { jti: token.jti }) }
  switch (event.kind) {
    case 'revoked-token-used':
      return {
        draft: { ...base, rule: 'revoked_token', summary: 'a revoked token was used', details: { ...tokenDetails, revocation: event.revocation } },
        dedupe: `revoked\n${event.revocation}\n${token.fingerprint}`,
      }
    case 'rotated-scope-used':
      return {
        draft: { ...base, rule: 'revoked_token', summary: `a token issued before ${event.scope} was rotated used it`, details: { ...tokenDetails, scope: event.scope } },
        dedupe: `rotated\n${event.scope}\n${token.fingerprint}`,
      }
    case 'scopes-clamped':
      return {
        draft: { ...base, rule: 'scope_ceiling', summary: 'a token carried scopes beyond its client\'s ceiling', details: { ...tokenDetails, removed: event.removed } },
        dedupe: `clamped\n${token.fingerprint}`,
      }
  }
}

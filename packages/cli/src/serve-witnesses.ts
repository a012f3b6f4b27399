// `annal serve`'s witnesses: from flags, the environment or the config file, and the lines it
// prints when a witness has failed for a while and when it recovers.
import { SIGNATURE_TYPE_COSIGNATURE_V1, parseVerifierKey } from '@annal/note'
import type { WitnessAlert, WitnessConfig } from '@annal/server'
import { splitKeyUrl } from './config.js'
import { UsageError } from './failure.js'
import type { Setting } from './serve-settings.js'

export const WITNESS_SETTINGS = [
  { flag: 'witness', variable: 'ANNAL_WITNESSES', key: 'witnesses', kind: 'multiple' },
  { flag: 'policy', variable: 'ANNAL_POLICY', key: 'policy' },
  { flag: 'witness-alert-after', variable: 'ANNAL_WITNESS_ALERT_AFTER', key: 'witnessAlertAfterMs' },
] as const satisfies readonly Setting[]

export const WITNESS_SERVE_USAGE = `  --witness VKEY@URL   a C2SP witness that logs' policies may name (its type-0x04 verifier key and
                 its URL); repeat for each. A log is witnessed only once it has a policy:
                 POST /v1/logs {"witnessing": {...}} or PUT /v1/logs/<log>/witnessing (docs/api.md)
  --policy K     the k of a log's policy that names none (default: all of its witnesses)
  --witness-alert-after MS   warn on stderr when a witness has failed for a log this long, and
                 say when it recovers (default 60000)`

export const WITNESS_CONFIG_KEYS = 'witnesses ([{name?, verifierKey, url}]), policy, witnessAlertAfterMs'
export const WITNESS_ENVIRONMENT = 'ANNAL_WITNESSES (space-separated VKEY@URL), ANNAL_POLICY, ANNAL_WITNESS_ALERT_AFTER'

export interface WitnessSettings {
  readonly witnesses: WitnessConfig[]
  readonly policy?: { readonly k: number }
  readonly alertAfterMs?: number
}

type Values = Record<string, string | string[] | boolean | undefined>

/**
 * The witnesses, the default k and the alert threshold; flags win over the environment, which
 * wins over the config file, and a list replaces a list.
 * @throws UsageError naming the setting that is wrong, and for a policy without witnesses.
 */
export function witnessSettings(values: Values, env: NodeJS.ProcessEnv, file: Record<string, unknown>): WitnessSettings {
  const witnesses = Array.isArray(values.witness) ? values.witness.map((text) => fromText(text, '--witness'))
    : env.ANNAL_WITNESSES?.trim() ? env.ANNAL_WITNESSES.trim().split(/\s+/).map((text) => fromText(text, 'ANNAL_WITNESSES'))
      : fromFile(file.witnesses)
  const policy = pickNumber(values.policy, env.ANNAL_POLICY, file.policy, '--policy (ANNAL_POLICY, policy in the config file)')
  if (policy !== undefined && witnesses.length === 0) {
    throw new UsageError('--policy needs witnesses: give --witness, ANNAL_WITNESSES or witnesses in the config file')
  }
  if (policy !== undefined && policy > witnesses.length) {
    throw new UsageError(`--policy must be 1..${witnesses.length}, the number of witnesses`)
  }
  const alertAfterMs = pickNumber(values['witness-alert-after'], env.ANNAL_WITNESS_ALERT_AFTER, file.witnessAlertAfterMs,
    '--witness-alert-after (ANNAL_WITNESS_ALERT_AFTER, witnessAlertAfterMs in the config file)')
  return { witnesses, ...(policy === undefined ? {} : { policy: { k: policy } }), ...(alertAfterMs === undefined ? {} : { alertAfterMs }) }
}

/** The line `annal serve` prints on stderr for an alert. */
export function alertLine(alert: WitnessAlert): string {
  const since = alert.since.toISOString()
  return alert.kind === 'failing'
    ? `annal: warning: witness ${alert.witness} has failed for log ${alert.log} since ${since} (${alert.lastError}); its cosignatures wait`
    : `annal: witness ${alert.witness} cosigns log ${alert.log} again (size ${alert.cosignedSize}), after failing since ${since}`
}

/** `VKEY@URL`. @throws UsageError naming `source`. */
function fromText(text: string, source: string): WitnessConfig {
  const { verifierKey, url } = splitKeyUrl(text)
  if (url === undefined) throw new UsageError(`${source} takes <verifier key>@<http(s) URL>`)
  return checked({ verifierKey, url }, source)
}

function fromFile(value: unknown): WitnessConfig[] {
  if (value === undefined) return []
  const source = 'witnesses in the config file'
  if (!Array.isArray(value)) throw new UsageError(`${source} must be a list of {name?, verifierKey, url}`)
  return value.map((item: unknown) => {
    const { name, verifierKey, url, ...rest } = (item ?? {}) as Record<string, unknown>
    if (typeof item !== 'object' || typeof verifierKey !== 'string' || typeof url !== 'string'
        || (name !== undefined && typeof name !== 'string') || Object.keys(rest).length > 0) {
      throw new UsageError(`${source} must be a list of {name?, verifierKey, url}`)
    }
    return checked({ name, verifierKey, url }, source)
  })
}

/** @throws UsageError unless the key is a cosignature key named `name` (when given) and the URL http(s). */
function checked(config: { name?: string; verifierKey: string; url: string }, source: string): WitnessConfig {
  let verifier: ReturnType<typeof parseVerifierKey>
  try {
    verifier = parseVerifierKey(config.verifierKey)
  } catch {
    throw new UsageError(`${source}: the witness's verifier key is malformed`)
  }
  if (verifier.type !== SIGNATURE_TYPE_COSIGNATURE_V1) throw new UsageError(`${source}: a witness's verifier key is a type 0x04 (cosignature) key`)
  if (config.name !== undefined && config.name !== verifier.name) throw new UsageError(`${source}: the name ${config.name} is not its key's name`)
  if (!URL.canParse(config.url) || !/^https?:$/.test(new URL(config.url).protocol)) throw new UsageError(`${source}: the URL must be http(s)`)
  return { name: verifier.name, verifierKey: config.verifierKey, url: config.url }
}

/** A positive whole number from a flag, the environment or the config file. @throws UsageError naming `what`. */
function pickNumber(flag: unknown, variable: string | undefined, fromFile: unknown, what: string): number | undefined {
  const value = typeof flag === 'string' ? flag : variable ?? fromFile
  if (value === undefined) return undefined
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]{1,15}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a positive whole number`)
  return n
}

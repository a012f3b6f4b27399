// `annal serve`'s settings in one list, each with its flag, environment variable and config
// file key: the list parses the arguments, refuses unknown config keys and checks the docs.
import { parseArgs } from 'node:util'
import { UsageError } from './failure.js'
import { PUBLISH_SETTINGS } from './serve-publish.js'
import { WITNESS_SETTINGS } from './serve-witnesses.js'

/** One setting: its flag (without dashes) and, if it has them, its variable and config key. */
export interface Setting {
  readonly flag: string
  readonly variable?: string
  readonly key?: string
  /** A boolean flag, or a string flag given once per item; default a string flag given once. */
  readonly kind?: 'boolean' | 'multiple'
  /** Production mode's authorization, which --dev replaces with its own issuer. */
  readonly production?: true
}

/** The token settings `annal serve` and `annal auth check` share. */
export const TOKEN_SETTINGS = [
  { flag: 'token-profile', variable: 'ANNAL_TOKEN_PROFILE', key: 'tokenProfile', production: true },
  { flag: 'token-types', variable: 'ANNAL_TOKEN_TYPES', key: 'tokenTypes', production: true },
  { flag: 'client-claims', variable: 'ANNAL_CLIENT_CLAIMS', key: 'clientClaims', production: true },
  { flag: 'required-claims', variable: 'ANNAL_REQUIRED_CLAIMS', key: 'requiredClaims', production: true },
  { flag: 'algorithms', variable: 'ANNAL_ALGORITHMS', key: 'algorithms', production: true },
] as const satisfies readonly Setting[]

export const SERVE_SETTINGS: readonly Setting[] = [
  { flag: 'dev', kind: 'boolean' },
  { flag: 'config' },
  { flag: 'data', variable: 'ANNAL_DATA', key: 'data' },
  { flag: 'database', variable: 'ANNAL_DATABASE', key: 'database' },
  { flag: 'host', variable: 'ANNAL_HOST', key: 'host' },
  { flag: 'port', variable: 'ANNAL_PORT', key: 'port' },
  { flag: 'origin-prefix', variable: 'ANNAL_ORIGIN_PREFIX', key: 'originPrefix' },
  { flag: 'issuer', variable: 'ANNAL_ISSUER', key: 'issuer', production: true },
  { flag: 'audience', variable: 'ANNAL_AUDIENCE', key: 'audience', production: true },
  { flag: 'jwks-url', variable: 'ANNAL_JWKS_URL', key: 'jwksUrl', production: true },
  { flag: 'jwks-file', variable: 'ANNAL_JWKS_FILE', key: 'jwksFile', production: true },
  ...TOKEN_SETTINGS,
  ...WITNESS_SETTINGS,
  ...PUBLISH_SETTINGS,
  { flag: 'metrics', variable: 'ANNAL_METRICS', key: 'metrics' },
  { flag: 'no-dashboard', kind: 'boolean', variable: 'ANNAL_DASHBOARD', key: 'dashboard' },
]

/** Settings only a config file gives: structured values with no flag or variable. */
export const SERVE_FILE_ONLY_KEYS = ['alerts', 'scopeCeilings'] as const

/** The keys a config file for `annal serve` (and `annal auth check`) may have. */
export const SERVE_CONFIG_KEYS: readonly string[] = [...SERVE_SETTINGS.flatMap((setting) => setting.key ?? []), ...SERVE_FILE_ONLY_KEYS]

/** What the flags gave, by flag name: only a 'multiple' setting gives a list. */
export type SettingValues = Record<string, string | boolean | string[] | undefined>

/** `annal serve`'s arguments. @throws node:util's ERR_PARSE_ARGS_* for an unknown or malformed flag. */
export function parseServeArgs(args: readonly string[]): SettingValues {
  const options = Object.fromEntries(SERVE_SETTINGS.map(({ flag, kind }) => [flag, kind === 'boolean'
    ? { type: 'boolean' as const } : { type: 'string' as const, ...(kind === 'multiple' ? { multiple: true } : {}) }]))
  return parseArgs({ args: [...args], options, strict: true }).values as SettingValues
}

/**
 * --dev makes its own token issuer, so production's settings would be ignored: refused instead,
 * wherever they come from.
 * @throws UsageError naming each one given.
 */
export function refuseProductionSettings(values: SettingValues, env: Readonly<Record<string, string | undefined>>,
    file: Record<string, unknown>): void {
  const given = SERVE_SETTINGS.filter((setting) => setting.production === true).flatMap(({ flag, variable, key }) => [
    ...(values[flag] === undefined ? [] : [`--${flag}`]),
    ...(variable === undefined || env[variable] === undefined ? [] : [variable]),
    ...(key === undefined || file[key] === undefined ? [] : [`${key} in the config file`]),
  ])
  if (given.length > 0) {
    throw new UsageError(`--dev makes its own token issuer and takes no production settings: drop ${listed(given)}, or leave out --dev`)
  }
}

/** Whether `host`, as --host takes it, is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return /^(?:127(?:\.[0-9]{1,3}){3}|::1|localhost|::ffff:127(?:\.[0-9]{1,3}){3})$/i.test(host)
}

/**
 * A database URL as it may be shown: the password (a URL's own or a `password` parameter)
 * replaced by `***`. Anything that is not a URL is shown as `***`, whole: it may be a password.
 */
export function redactedDatabaseUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return '***'
  }
  if (parsed.password !== '') parsed.password = '***'
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***')
  return parsed.href.replaceAll('%2A%2A%2A', '***')
}

/** `a`, `a and b`, `a, b and c`. */
export function listed(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

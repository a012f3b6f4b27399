import {
  type AuthOptions, TOKEN_PROFILES, TOKEN_PROFILE_NAMES, TokenVerifier, type TokenProfile, type TokenProfileName,
  allowedAlgorithms, explainToken, fetchIssuerKeys, isApiError,
} from '@annal/server'
import { configString, configStrings, readConfig, readJwksFile } from '../config.js'
import { Failure, UsageError } from '../failure.js'
import { SERVE_CONFIG_KEYS, TOKEN_SETTINGS } from '../serve-settings.js'
import type { Program } from '../program.js'

export const TOKEN_USAGE = `  --token-profile NAME   what the issuer's access tokens carry: ${TOKEN_PROFILE_NAMES.join(', ')}
                 (default rfc9068, the strict RFC 9068 profile); docs/operations.md has each
  --token-types LIST     override: accepted header typ values, comma-separated; "none" for no typ
  --client-claims LIST   override: the claims naming the client, first present wins
  --required-claims LIST override: claims required besides iss, aud, exp and the client
  --algorithms LIST      override: allowed JWS algorithms (default RS256,PS256,ES256,EdDSA,Ed25519)`

export const TOKEN_ENVIRONMENT = 'ANNAL_TOKEN_PROFILE, ANNAL_TOKEN_TYPES, ANNAL_CLIENT_CLAIMS, ANNAL_REQUIRED_CLAIMS, ANNAL_ALGORITHMS'

export const TOKEN_CONFIG_KEYS = 'tokenProfile, tokenTypes, clientClaims, requiredClaims, algorithms'

/**
 * The token profile and algorithms from flags, then the environment, then the config file
 * (lists: comma-separated in flags and variables, JSON lists in the file).
 * @throws UsageError for an unknown profile name, naming the valid ones, or an empty list.
 */
export function tokenSettings(values: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>,
    file: Record<string, unknown>): Pick<AuthOptions, 'tokenProfile' | 'algorithms'> {
  const [name, types, clientClaims, requiredClaims, algorithms] = TOKEN_SETTINGS.map(({ flag, variable, key }) => {
    const text = typeof values[flag] === 'string' ? values[flag] as string : env[variable]
    if (text !== undefined) return list(text, `--${flag}`)
    return key === 'tokenProfile' ? optional(configString(file, key)) : configStrings(file, key)
  })
  const profileName = name?.join(',') ?? 'rfc9068'
  if (!(TOKEN_PROFILE_NAMES as readonly string[]).includes(profileName)) {
    throw new UsageError(`unknown token profile ${JSON.stringify(profileName)}; use one of ${TOKEN_PROFILE_NAMES.join(', ')}`)
  }
  const preset = TOKEN_PROFILES[profileName as TokenProfileName]
  const overridden = types !== undefined || clientClaims !== undefined || requiredClaims !== undefined
  const profile: TokenProfile = {
    ...preset,
    ...(types === undefined ? {} : { types: types.map((type) => type === 'none' ? null : type) }),
    ...(clientClaims === undefined ? {} : { clientClaims }),
    ...(requiredClaims === undefined ? {} : { requiredClaims }),
  }
  return { tokenProfile: overridden ? profile : profileName as TokenProfileName, ...(algorithms === undefined ? {} : { algorithms }) }
}

function optional(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : [text]
}

function list(text: string, flag: string): string[] {
  const items = text.split(',').map((item) => item.trim())
  if (items.some((item) => item === '')) throw new UsageError(`${flag} takes a comma-separated list of names, none empty`)
  return items
}

/**
 * @throws UsageError unless `audience` is an http(s) URL: the server names itself by it in its
 *   protected resource metadata (RFC 9728 §2), where clients find it to ask for tokens (RFC 8707).
 */
export function checkAudience(audience: string): void {
  if (URL.canParse(audience) && /^https?:$/.test(new URL(audience).protocol)) return
  throw new UsageError('--audience (ANNAL_AUDIENCE, audience in the config file) must be this server\'s resource identifier, '
    + `an http(s) URL such as https://annal.example.com/ (RFC 9728, RFC 8707), not ${JSON.stringify(audience)}`)
}

/**
 * Fetches the issuer's keys once (from `jwksUrl`, or the URL its discovery document names) and
 * returns `auth` with that URL, after checking the settings as the server will; keys given
 * directly are taken as they are.
 * @throws Failure in one sentence naming the URL when the keys cannot be had; UsageError for
 *   settings that cannot work, or neither a key source nor an http(s) issuer to discover one from.
 */
export async function withIssuerKeys(auth: AuthOptions): Promise<AuthOptions> {
  let found = auth
  if (auth.jwks === undefined) {
    try {
      const { jwksUrl } = await fetchIssuerKeys({
        issuer: auth.issuer, algorithms: allowedAlgorithms(auth), ...(auth.jwksUrl === undefined ? {} : { jwksUrl: String(auth.jwksUrl) }),
      })
      found = { ...auth, jwksUrl }
    } catch (error) {
      if (isApiError(error, 'AUTH_UNAVAILABLE')) throw new Failure(error.message)
      if (error instanceof TypeError) throw new UsageError(error.message.replace('give the JWKS URL or file', 'pass --jwks-url or --jwks-file'))
      throw error
    }
  }
  try {
    // Made only to check the settings: it fetches nothing until it verifies a token.
    void new TokenVerifier(found, () => new Date())
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message)
    throw error
  }
  return found
}

interface CheckOptions {
  readonly issuer?: string
  readonly audience?: string
  readonly jwksUrl?: string
  readonly jwksFile?: string
  readonly config?: string
  readonly tokenProfile?: string
  readonly tokenTypes?: string
  readonly clientClaims?: string
  readonly requiredClaims?: string
  readonly algorithms?: string
}

/** `annal auth check`: a token against the settings `annal serve` takes, rule by rule. */
export function registerAuth(program: Program): void {
  const auth = program.root.command('auth').description('check access tokens against this server\'s settings')
  program.command<CheckOptions, [string]>(auth, {
    name: 'check',
    description: 'say which of the server\'s rules an access token passes or fails, never printing the token (exit 0: all pass)',
    example: 'annal auth check --config annal.json - < token.txt',
    options: ['json'],
    setup: (command) => command
      .argument('<token>', 'the access token, or - to read it from standard input (keeps it out of shell history)')
      .option('--issuer <url>', 'the issuer whose tokens are accepted (ANNAL_ISSUER)')
      .option('--audience <uri>', 'this server\'s resource identifier (ANNAL_AUDIENCE)')
      .option('--jwks-url <url>', 'the issuer\'s keys; without it or --jwks-file, from its discovery document (ANNAL_JWKS_URL)')
      .option('--jwks-file <path>', 'the issuer\'s keys in a local JWKS file (ANNAL_JWKS_FILE)')
      .option('--config <file>', 'the JSON config file annal serve takes')
      .option('--token-profile <name>', `${TOKEN_PROFILE_NAMES.join(', ')} (default rfc9068; ANNAL_TOKEN_PROFILE)`)
      .option('--token-types <list>', 'override: accepted typ values; "none" for no typ (ANNAL_TOKEN_TYPES)')
      .option('--client-claims <list>', 'override: the claims naming the client (ANNAL_CLIENT_CLAIMS)')
      .option('--required-claims <list>', 'override: claims required besides iss, aud, exp (ANNAL_REQUIRED_CLAIMS)')
      .option('--algorithms <list>', 'override: allowed JWS algorithms (ANNAL_ALGORITHMS)'),
    action: async (ctx, options, tokenArgument) => {
      const settings = await checkSettings(options, ctx.io.env)
      const token = tokenArgument === '-' ? new TextDecoder().decode(await ctx.io.stdin()).trim() : tokenArgument
      if (token === '') throw new UsageError('no token: give one, or - and the token on standard input')
      const explanation = await explainToken(settings, token)
      ctx.print(explanation, () => {
        ctx.io.out(`token sha256:${explanation.fingerprint}`)
        for (const { rule, passed, detail } of explanation.rules) ctx.io.out(`${passed ? 'pass' : 'FAIL'}  ${rule.padEnd(9)} ${detail}`)
      })
      return explanation.passed ? 0 : 1
    },
  })
}

async function checkSettings(options: CheckOptions, env: Readonly<Record<string, string | undefined>>): Promise<AuthOptions> {
  const file = options.config === undefined ? {} : await readConfig(options.config, SERVE_CONFIG_KEYS)
  const pick = (flag: string | undefined, variable: string, key: string) => flag ?? env[variable] ?? configString(file, key)
  const issuer = pick(options.issuer, 'ANNAL_ISSUER', 'issuer')
  const audience = pick(options.audience, 'ANNAL_AUDIENCE', 'audience')
  const jwksUrl = pick(options.jwksUrl, 'ANNAL_JWKS_URL', 'jwksUrl')
  const jwksFile = pick(options.jwksFile, 'ANNAL_JWKS_FILE', 'jwksFile')
  if (issuer === undefined || audience === undefined) throw new UsageError('auth check needs --issuer and --audience, or --config')
  checkAudience(audience)
  if (jwksUrl !== undefined && jwksFile !== undefined) throw new UsageError('give --jwks-url or --jwks-file, not both')
  const values = {
    'token-profile': options.tokenProfile, 'token-types': options.tokenTypes, 'client-claims': options.clientClaims,
    'required-claims': options.requiredClaims, algorithms: options.algorithms,
  }
  const auth: AuthOptions = {
    issuer, audience, ...tokenSettings(values, env, file),
    ...(jwksFile !== undefined ? { jwks: await readJwksFile(jwksFile) } : jwksUrl !== undefined ? { jwksUrl } : {}),
  }
  return withIssuerKeys(auth)
}

// `annal serve --publish s3://bucket/prefix`: the logs' tiles, bundles and checkpoints copied to
// an S3-compatible bucket, from flags, the environment or the config file.
import { readFile } from 'node:fs/promises'
import { Publisher, S3Bucket, type S3Credentials, type S3Target, describeTarget, parseS3Url, s3ClientConfig } from '@annal/publish'
import { ACCESS_LOG, ALERTS_LOG, type AnnalApp, servedCheckpoint } from '@annal/server'
import type { Ledger } from '@annal/store'
import { UsageError } from './failure.js'
import type { Setting } from './serve-settings.js'

export const PUBLISH_SETTINGS = [
  { flag: 'publish', variable: 'ANNAL_PUBLISH', key: 'publish' },
  { flag: 'publish-endpoint', variable: 'ANNAL_PUBLISH_ENDPOINT', key: 'publishEndpoint' },
  { flag: 'publish-region', variable: 'ANNAL_PUBLISH_REGION', key: 'publishRegion' },
  { flag: 'publish-path-style', variable: 'ANNAL_PUBLISH_PATH_STYLE', key: 'publishPathStyle', kind: 'boolean' },
  { flag: 'publish-credentials', variable: 'ANNAL_PUBLISH_CREDENTIALS', key: 'publishCredentials' },
] as const satisfies readonly Setting[]

export const PUBLISH_USAGE = `  --publish s3://BUCKET[/PREFIX]   copy every log's tiles, entry bundles and checkpoints (not
                 the access and alerts logs') to the bucket as C2SP tlog-tiles, <prefix>/<log>/...,
                 for readers to read from it or a CDN; retried until it succeeds, never in an
                 append's way. Credentials: the AWS SDK's (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...)
  --publish-endpoint URL   an S3-compatible endpoint (MinIO, Ceph, R2, ...); default AWS's
  --publish-region R   default AWS_REGION or the shared config file; us-east-1 with an endpoint
  --publish-path-style URLs <endpoint>/<bucket>/<key>, not virtual-hosted <bucket>.<host>/<key>
  --publish-credentials FILE   a JSON file {"accessKeyId", "secretAccessKey", "sessionToken"?}
                 to sign with instead (read at start, never printed)`

export const PUBLISH_CONFIG_KEYS = 'publish, publishEndpoint, publishRegion, publishPathStyle, publishCredentials'
export const PUBLISH_ENVIRONMENT = 'ANNAL_PUBLISH, ANNAL_PUBLISH_ENDPOINT, ANNAL_PUBLISH_REGION, ANNAL_PUBLISH_PATH_STYLE (true or false), ANNAL_PUBLISH_CREDENTIALS'

type Values = Record<string, string | string[] | boolean | undefined>

/**
 * The bucket to publish to, or undefined without --publish; flags win over the environment,
 * which wins over the config file.
 * @throws UsageError naming the setting that is wrong, or a --publish-* setting without --publish.
 */
export async function publishSettings(values: Values, env: NodeJS.ProcessEnv, file: Record<string, unknown>): Promise<S3Target | undefined> {
  const url = pickString(values.publish, env.ANNAL_PUBLISH, file.publish, '--publish (ANNAL_PUBLISH, publish in the config file)')
  const endpoint = pickString(values['publish-endpoint'], env.ANNAL_PUBLISH_ENDPOINT, file.publishEndpoint,
    '--publish-endpoint (ANNAL_PUBLISH_ENDPOINT, publishEndpoint in the config file)')
  const region = pickString(values['publish-region'], env.ANNAL_PUBLISH_REGION, file.publishRegion,
    '--publish-region (ANNAL_PUBLISH_REGION, publishRegion in the config file)')
  const pathStyle = pickBoolean(values['publish-path-style'], env.ANNAL_PUBLISH_PATH_STYLE, file.publishPathStyle)
  const credentialsFile = pickString(values['publish-credentials'], env.ANNAL_PUBLISH_CREDENTIALS, file.publishCredentials,
    '--publish-credentials (ANNAL_PUBLISH_CREDENTIALS, publishCredentials in the config file)')
  if (url === undefined) {
    const given = [endpoint, region, pathStyle, credentialsFile].some((setting) => setting !== undefined)
    if (given) throw new UsageError('the --publish-* settings need --publish s3://BUCKET[/PREFIX] (ANNAL_PUBLISH, publish in the config file)')
    return undefined
  }
  const target: S3Target = {
    ...checked(() => parseS3Url(url), '--publish (ANNAL_PUBLISH, publish in the config file)'),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(pathStyle === undefined ? {} : { pathStyle }),
    ...(credentialsFile === undefined ? {} : { credentials: await readCredentials(credentialsFile) }),
  }
  checked(() => s3ClientConfig(target), '--publish-endpoint (ANNAL_PUBLISH_ENDPOINT, publishEndpoint in the config file)')
  return target
}

/**
 * A client for the target's bucket, once it is known to have a region.
 * @throws UsageError when no region is given or configured.
 */
export async function openBucket(target: S3Target): Promise<S3Bucket> {
  const bucket = new S3Bucket(target)
  try {
    await bucket.checkRegion()
  } catch {
    bucket.close()
    throw new UsageError('--publish needs a region: give --publish-region (ANNAL_PUBLISH_REGION, publishRegion in the config file), or set AWS_REGION')
  }
  return bucket
}

/**
 * Publishes every log but the server's own (their tiles need a token from the API), each with the
 * checkpoint the API serves; says on `err` when a log's publishing fails, and when it works again.
 */
export function publisherFor(bucket: S3Bucket, ledger: Ledger, app: () => AnnalApp, err: (line: string) => void): Publisher {
  const where = describeTarget(bucket.target)
  return new Publisher({
    ledger, bucket,
    logs: (name) => name !== ACCESS_LOG && name !== ALERTS_LOG,
    checkpoint: (log) => servedCheckpoint(app(), log),
    onFailure: (log, reason) => err(`annal: warning: publishing log ${log} to ${where} fails (${reason}); retrying with backoff`),
    onRecovery: (log, size) => err(`annal: publishing log ${log} to ${where} works again (size ${size})`),
  })
}

/** The line `annal serve` prints when it starts publishing. */
export function publishingLine(target: S3Target): string {
  return `publishing logs to ${describeTarget(target)}`
}

/** @throws UsageError naming the file, for one that cannot be read or does not hold two keys; never quoting it. */
async function readCredentials(path: string): Promise<S3Credentials> {
  const text = await readFile(path, 'utf8').catch((error: { code?: string }) => {
    throw new UsageError(`cannot read the publish credentials file ${path} (${error.code ?? 'unreadable'}); check --publish-credentials`)
  })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const { accessKeyId, secretAccessKey, sessionToken } = (parsed ?? {}) as Record<string, unknown>
  const isKey = (value: unknown) => typeof value === 'string' && value !== ''
  if (!isKey(accessKeyId) || !isKey(secretAccessKey) || (sessionToken !== undefined && !isKey(sessionToken))) {
    throw new UsageError(`the publish credentials file ${path} must hold a JSON object {"accessKeyId", "secretAccessKey", "sessionToken"?} of strings`)
  }
  return { accessKeyId: accessKeyId as string, secretAccessKey: secretAccessKey as string, ...(sessionToken === undefined ? {} : { sessionToken: sessionToken as string }) }
}

function checked<T>(make: () => T, setting: string): T {
  try {
    return make()
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(`${setting}: ${error.message}`)
    throw error
  }
}

function pickString(flag: unknown, variable: string | undefined, fromFile: unknown, setting: string): string | undefined {
  if (typeof flag === 'string') return flag
  if (variable !== undefined) return variable
  if (fromFile === undefined) return undefined
  if (typeof fromFile !== 'string') throw new UsageError(`${setting} must be a string`)
  return fromFile
}

/** @throws UsageError for a variable other than true or false, or a file value that is no boolean. */
function pickBoolean(flag: unknown, variable: string | undefined, fromFile: unknown): boolean | undefined {
  if (flag === true) return true
  if (variable !== undefined) {
    if (variable !== 'true' && variable !== 'false') throw new UsageError('ANNAL_PUBLISH_PATH_STYLE must be true or false')
    return variable === 'true'
  }
  if (fromFile !== undefined && typeof fromFile !== 'boolean') throw new UsageError('publishPathStyle in the config file must be true or false')
  return fromFile as boolean | undefined
}

// An S3 bucket (AWS or any S3-compatible store) as a place to publish to, through AWS SDK v3.
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import type { ObjectBucket, ObjectHeaders } from './bucket.js'

/** Where to publish: a bucket and a key prefix, and how to reach them. */
export interface S3Target {
  readonly bucket: string
  /** Every key starts with `<prefix>/`; '' for none. */
  readonly prefix: string
  /** An S3-compatible endpoint URL (MinIO, Ceph, R2, ...); default: AWS's for the region. */
  readonly endpoint?: string
  /** Default: the AWS SDK's (AWS_REGION, the shared config file); with an endpoint, us-east-1. */
  readonly region?: string
  /** `<endpoint>/<bucket>/<key>` rather than virtual-hosted `<bucket>.<endpoint host>/<key>`. Default false. */
  readonly pathStyle?: boolean
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID, AWS_PROFILE and the shared files, SSO, instance roles, ...). */
  readonly credentials?: S3Credentials
}

export interface S3Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
}

// S3's rules for new bucket names: 3-63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/
/** A request that has not finished by then is abandoned and retried: a publication never hangs. */
const REQUEST_TIMEOUT_MS = 30_000
const CONNECTION_TIMEOUT_MS = 5_000

/**
 * `s3://<bucket>[/<prefix>]`: the bucket and key prefix (a trailing `/` is dropped). Prefix
 * segments take S3's safe characters only (letters, digits and `!_.*'()-`), and none is `.` or
 * `..`, so that every key means the same path on any store and behind any CDN.
 * @throws RangeError saying what is wrong.
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = typeof url === 'string' ? /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url) : null
  if (match === null) throw new RangeError('a publish URL is s3://<bucket>[/<prefix>]')
  const bucket = match[1]!
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw new RangeError(`"${bucket}" is not an S3 bucket name (3-63 of a-z, 0-9, . and -)`)
  const prefix = (match[2] ?? '').replace(/\/$/, '')
  if (prefix !== '' && !prefix.split('/').every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..')) {
    throw new RangeError('a publish prefix is segments of letters, digits and !_.*\'()- between single slashes')
  }
  return { bucket, prefix }
}

/** The target as `s3://bucket/prefix`, with its endpoint if it has one; never its credentials. */
export function describeTarget(target: S3Target): string {
  const url = `s3://${target.bucket}${target.prefix === '' ? '' : `/${target.prefix}`}`
  return target.endpoint === undefined ? url : `${url} at ${target.endpoint}`
}

/**
 * The AWS SDK's client settings for `target`.
 * @throws RangeError for an endpoint that is no http(s) URL.
 */
export function s3ClientConfig(target: S3Target): S3ClientConfig {
  if (target.endpoint !== undefined && !/^https?:\/\/[^/?#]+\/?$/.test(target.endpoint)) {
    throw new RangeError('a publish endpoint is an http(s) URL with no path, such as https://s3.example.com')
  }
  const region = target.region ?? (target.endpoint === undefined ? undefined : 'us-east-1')
  return {
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
    ...(region === undefined ? {} : { region }),
    forcePathStyle: target.pathStyle === true,
    ...(target.credentials === undefined ? {} : { credentials: { ...target.credentials } }),
    requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: CONNECTION_TIMEOUT_MS },
  }
}

/** A bucket reached with AWS SDK v3's S3Client. */
export class S3Bucket implements ObjectBucket {
  readonly id: string
  readonly target: S3Target
  readonly #client: S3Client

  /** `config` is added to the target's (tests give a request handler here). */
  constructor(target: S3Target, config: Partial<S3ClientConfig> = {}) {
    this.target = target
    this.id = `${target.endpoint ?? 'aws'} ${target.bucket} ${target.prefix}`
    this.#client = new S3Client({ ...s3ClientConfig(target), ...config })
  }

  /**
   * Resolves when the client knows its region (from the target, AWS_REGION or the shared config
   * file), which it needs before its first request.
   * @throws RangeError when it has none.
   */
  async checkRegion(): Promise<void> {
    const region = await this.#client.config.region().catch(() => undefined)
    if (typeof region !== 'string' || region === '') throw new RangeError('no region for the bucket')
  }

  async put(path: string, body: Uint8Array, headers: ObjectHeaders, signal: AbortSignal): Promise<void> {
    await this.#client.send(new PutObjectCommand({
      Bucket: this.target.bucket, Key: this.key(path), Body: body, ContentLength: body.length,
      ContentType: headers.contentType, CacheControl: headers.cacheControl,
    }), { abortSignal: signal })
  }

  /** The object key of `path`, a path under the target's prefix. */
  key(path: string): string {
    return this.target.prefix === '' ? path : `${this.target.prefix}/${path}`
  }

  /** Closes the client's connections. */
  close(): void {
    this.#client.destroy()
  }
}

import { hexToBytes } from '@annal/tlog'
import { ClientError } from '../errors.js'
import type { Fetch } from '../log-client.js'

const HASH_HEX = /^[0-9a-f]{64}$/

function invalid(message: string, status?: number): ClientError {
  return new ClientError('RESPONSE_INVALID', message, status === undefined ? {} : { status })
}

/** The problem `code` of a refusal, when the body is a problem document that has one. */
async function problemCode(response: Response): Promise<string> {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/problem+json')) return ''
  const problem = await response.json().catch(() => undefined) as { code?: unknown } | undefined
  return typeof problem?.code === 'string' ? ` ${problem.code}` : ''
}

/** GETs `url` and returns the response if it is 200. Throws ClientError RESPONSE_INVALID (with `status`) otherwise. */
export async function get(fetcher: Fetch, url: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetcher(url, { headers, redirect: 'error' })
  if (response.status !== 200) {
    const code = await problemCode(response)
    throw invalid(`GET ${new URL(url).pathname} answered ${response.status}${code}`, response.status)
  }
  return response
}

/** The JSON body of a 200 answer. Throws ClientError RESPONSE_INVALID. */
export async function getJson(fetcher: Fetch, url: string, headers?: Record<string, string>): Promise<Record<string, unknown>> {
  return jsonObject(await get(fetcher, url, headers), url)
}

async function jsonObject(response: Response, url: string): Promise<Record<string, unknown>> {
  const body: unknown = await response.json().catch(() => undefined)
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`GET ${new URL(url).pathname} answered no JSON object`)
  return body as Record<string, unknown>
}

/** A field that must be a safe non-negative integer. Throws ClientError RESPONSE_INVALID. */
export function countField(body: Record<string, unknown>, name: string): number {
  const value = body[name]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${name} is not a count`)
  return value
}

/** A field that must be a 32-byte hash in lowercase hex. Throws ClientError RESPONSE_INVALID. */
export function hashField(value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string' || !HASH_HEX.test(value)) throw invalid(`${name} is not a hash in lowercase hex`)
  return hexToBytes(value)
}

/** A field that must be a list of hashes in lowercase hex. Throws ClientError RESPONSE_INVALID. */
export function hashesField(body: Record<string, unknown>, name: string): Uint8Array[] {
  const value = body[name]
  if (!Array.isArray(value)) throw invalid(`${name} is not a list`)
  return value.map((item) => hashField(item, name))
}

/**
 * GETs from one log's API with the caller's token shown only where it is needed. Entry bundles
 * and entries always need it. Checkpoints, proofs and hash tiles are public on event logs, but
 * not on the access log: those go without the token until the log has answered 401 once, and
 * with it from then on. A public read without a token stays cacheable, is not an access-log
 * record of its own, and can come from a bucket or CDN that would refuse a bearer token.
 */
export class LogReader {
  readonly #fetch: Fetch
  readonly #headers: Record<string, string>
  #tokenEverywhere = false

  constructor(fetcher: Fetch, token: string | undefined) {
    this.#fetch = fetcher
    this.#headers = token === undefined ? {} : { Authorization: `Bearer ${token}` }
  }

  /** A route that always needs the token. Throws as get(). */
  async restricted(url: string): Promise<Response> {
    return get(this.#fetch, url, this.#headers)
  }

  /** A route that is public on event logs. Throws as get(). */
  async public(url: string): Promise<Response> {
    if (this.#tokenEverywhere) return get(this.#fetch, url, this.#headers)
    try {
      return await get(this.#fetch, url)
    } catch (error) {
      if (!(error instanceof ClientError && error.status === 401 && 'Authorization' in this.#headers)) throw error
      this.#tokenEverywhere = true
      return get(this.#fetch, url, this.#headers)
    }
  }

  async restrictedJson(url: string): Promise<Record<string, unknown>> {
    return jsonObject(await this.restricted(url), url)
  }

  async publicJson(url: string): Promise<Record<string, unknown>> {
    return jsonObject(await this.public(url), url)
  }
}

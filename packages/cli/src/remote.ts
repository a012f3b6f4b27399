import type { Remote } from './context.js'
import { Failure } from './failure.js'

/** A refusal from the server: its problem detail and code, so that it reads as the same refusal made locally. */
export class RemoteError extends Failure {
  readonly code: string
  readonly status: number
  readonly body: Record<string, unknown>

  constructor(status: number, code: string, message: string, body: Record<string, unknown>) {
    super(message)
    this.status = status
    this.code = code
    this.body = body
  }
}

/**
 * Calls the server at `path` under the remote's base URL (e.g. `/v1/logs`), with its token when
 * there is one, and resolves with a 2xx response.
 * @throws Failure when the server cannot be reached; RemoteError for any other status.
 */
export async function request(remote: Remote, path: string, init: RequestInit = {}): Promise<Response> {
  const url = `${remote.url}${path}`
  const headers = new Headers(init.headers)
  if (remote.token !== undefined) headers.set('authorization', `Bearer ${remote.token}`)
  let response: Response
  try {
    response = await fetch(url, { ...init, headers })
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause
    throw new Failure(`cannot reach ${remote.url}: ${cause?.code ?? cause?.message ?? (error as Error).message}`)
  }
  if (response.ok) return response
  const text = await response.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    // Not a problem body (a proxy's page, say): the status says what happened.
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP_${response.status}`
  const detail = typeof body.detail === 'string' ? body.detail : `the server answered ${response.status}`
  const hint = response.status === 401 ? (remote.token === undefined ? '; set ANNAL_TOKEN' : '; check ANNAL_TOKEN') : ''
  throw new RemoteError(response.status, code, `${detail}${hint}`, body)
}

/** The path of the remote's log, below its base URL: `/v1/logs/NAME`. */
export function logPath(remote: Remote): string {
  return remote.logUrl.slice(remote.url.length)
}

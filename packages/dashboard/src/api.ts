// The public HTTP API with the signed-in token: nothing the token does not allow is ever asked.
import { type EventSourceMessage, createParser } from 'eventsource-parser'

/** An answer other than 2xx, from its RFC 9457 problem body when it has one. */
export class ApiProblem extends Error {
  readonly status: number
  readonly code: string | undefined

  constructor(status: number, code: string | undefined, message: string) {
    super(message)
    this.name = 'ApiProblem'
    this.status = status
    this.code = code
  }
}

export class Api {
  readonly token: string | undefined
  /** Put before every path: none in the page, whose paths are relative to its own origin. */
  readonly base: string

  constructor(token: string | undefined, base = '') {
    this.token = token
    this.base = base
  }

  /** GET (or `init`) `path`, answered 2xx. @throws ApiProblem otherwise. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.token !== undefined) headers.set('Authorization', `Bearer ${this.token}`)
    const response = await fetch(`${this.base}${path}`, { ...init, headers, cache: 'no-store' })
    if (!response.ok) throw await problemOf(response)
    return response
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await this.request(path, init)).json() as Promise<T>
  }

  async text(path: string, init?: RequestInit): Promise<string> {
    return (await this.request(path, init)).text()
  }

  async bytes(path: string, init?: RequestInit): Promise<Uint8Array> {
    return new Uint8Array(await (await this.request(path, init)).arrayBuffer())
  }
}

async function problemOf(response: Response): Promise<ApiProblem> {
  let body: { code?: unknown; detail?: unknown; title?: unknown } = {}
  try {
    if (/json/.test(response.headers.get('content-type') ?? '')) body = await response.json() as typeof body
  } catch {
    // an answer without a problem body is told by its status
  }
  const code = typeof body.code === 'string' ? body.code : undefined
  const detail = typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : response.statusText
  return new ApiProblem(response.status, code, `${response.status}${code === undefined ? '' : ` ${code}`}: ${detail}`)
}

export type StreamState =
  | { readonly kind: 'live' }
  | { readonly kind: 'reconnecting'; readonly inMs: number; readonly reason: string }
  | { readonly kind: 'stopped'; readonly reason: string }

/** Waits after a dropped stream: doubled per failure in a row, up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 1_000
const MAX_RETRY_MS = 30_000

/**
 * Follows a server-sent event stream over fetch (EventSource cannot send a bearer token), and
 * reconnects after a drop with Last-Event-ID, so that no event is missed or seen twice. An
 * answer of 4xx stops it (the token cannot read it); so does `signal`.
 */
export async function follow(api: Api, path: string, signal: AbortSignal,
    onEvent: (event: EventSourceMessage) => void, onState: (state: StreamState) => void): Promise<void> {
  let lastId: string | undefined
  let failures = 0
  while (!signal.aborted) {
    try {
      const response = await api.request(path, {
        signal, headers: { Accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'Last-Event-ID': lastId }) },
      })
      failures = 0
      onState({ kind: 'live' })
      const parser = createParser({
        onEvent: (event) => {
          if (event.id !== undefined) lastId = event.id
          onEvent(event)
        },
      })
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        parser.feed(value)
      }
      throw new Error('the stream ended')
    } catch (error) {
      if (signal.aborted) return
      if (error instanceof ApiProblem && error.status >= 400 && error.status < 500) {
        onState({ kind: 'stopped', reason: error.message })
        return
      }
      const inMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** failures++)
      onState({ kind: 'reconnecting', inMs, reason: (error as Error).message })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, inMs)
        signal.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve()
        }, { once: true })
      })
    }
  }
}

import { createHash, createHmac } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Log, RowTable } from '@annal/store'

/** A receiver of alerts: an http(s) URL and its Standard Webhooks secret (`whsec_` + base64). */
export interface WebhookConfig {
  readonly url: string
  readonly secret: string
}

export interface WebhookTiming {
  /** Wait after a failed attempt, in ms, doubled per further failure. Default 1,000. */
  readonly backoffMs?: number
  /** Longest wait between attempts, also for a Retry-After, in ms. Default 3,600,000. */
  readonly maxBackoffMs?: number
  /** Limit on one attempt, in ms. Default 10,000. */
  readonly timeoutMs?: number
}

/** An endpoint with its secret decoded and its id: the key of its outbox rows. */
export interface Endpoint {
  readonly id: string
  readonly url: string
  readonly key: Uint8Array
}

const SECRET = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/

/**
 * Standard Webhooks: a `whsec_` secret is base64 of 24 to 64 random bytes.
 * @throws RangeError for a bad URL or secret (the message never holds the secret).
 */
export function parseEndpoint(config: WebhookConfig): Endpoint {
  if (typeof config.url !== 'string' || !/^https?:\/\//.test(config.url) || !URL.canParse(config.url)) {
    throw new RangeError('a webhook url is an http(s) URL')
  }
  const match = typeof config.secret === 'string' ? SECRET.exec(config.secret) : null
  const key = match === null ? undefined : Buffer.from(match[1]!, 'base64')
  if (key === undefined || key.length < 24 || key.length > 64 || key.toString('base64') !== match![1]) {
    throw new RangeError(`the secret of webhook ${config.url} is not whsec_ and base64 of 24-64 bytes`)
  }
  return { id: createHash('sha256').update(config.url).digest('hex').slice(0, 16), url: config.url, key }
}

/**
 * Standard Webhooks `webhook-signature`: `v1,` and base64 HMAC-SHA256 of `id.timestamp.body`.
 * Signed here with node:crypto, not the `standardwebhooks` package, so that the server has no
 * dependency for five lines, and the tests verify with that package: an implementation we did not write.
 */
export function signWebhook(key: Uint8Array, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/** The outbox row key of alert `index` for `endpoint`: ordered by index within an endpoint. */
export function outboxKey(endpoint: string, index: number): string {
  return `${endpoint}\n${String(index).padStart(16, '0')}`
}

/** The state row of an endpoint that answered 410: nothing more is sent to it. */
export function disabledKey(endpoint: string): string {
  return `disabled\n${endpoint}`
}

/** The body of alert `index` (an `alerts` log entry) as delivered. */
export function webhookBody(index: number, alert: Record<string, unknown>): string {
  return JSON.stringify({ type: `annal.alert.${String(alert.rule)}`, timestamp: alert.time, data: { log: 'alerts', index, alert } })
}

/** How an attempt went: delivered, gone (410), or to retry, after the receiver's Retry-After if it gave one. */
type Outcome = { readonly kind: 'done' | 'gone' } | { readonly kind: 'retry'; readonly after: number | undefined }

interface DeliveryOptions extends WebhookTiming {
  readonly endpoints: readonly Endpoint[]
  readonly outbox: RowTable
  readonly state: RowTable
  readonly alerts: Log
  readonly clock: () => Date
}

/**
 * Delivers the outbox, one worker per endpoint, alert by alert in index order: a row is
 * deleted only after a 2xx, so every alert is delivered at least once, across receiver outages
 * (retried with doubling waits, or the receiver's Retry-After) and restarts (the rows are
 * durable; the evaluator writes them with the alert). A 410 disables the endpoint for good.
 */
export class WebhookDelivery {
  readonly #options: Required<WebhookTiming> & DeliveryOptions
  readonly #wakes = new Map<string, () => void>()
  readonly #running: Promise<void>[] = []
  readonly #abort = new AbortController()
  #disabled = new Set<string>()

  constructor(options: DeliveryOptions) {
    this.#options = { backoffMs: 1_000, maxBackoffMs: 3_600_000, timeoutMs: 10_000, ...options }
    for (const name of ['backoffMs', 'maxBackoffMs', 'timeoutMs'] as const) {
      const value = this.#options[name]
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
    }
  }

  /** Reads which endpoints are disabled, drops the rows of endpoints no longer configured, and starts the workers. */
  async start(): Promise<void> {
    const ids = new Set(this.#options.endpoints.map((endpoint) => endpoint.id))
    for (const endpoint of this.#options.endpoints) {
      if (await this.#options.state.get(disabledKey(endpoint.id)) !== undefined) this.#disabled.add(endpoint.id)
    }
    const stale: string[] = []
    for await (const [key] of this.#options.outbox.rows()) {
      const id = key.split('\n')[0]!
      if (!ids.has(id) || this.#disabled.has(id)) stale.push(key)
    }
    await this.#options.outbox.delete(stale)
    for (const endpoint of this.#options.endpoints) {
      if (!this.#disabled.has(endpoint.id)) this.#running.push(this.#work(endpoint))
    }
  }

  /** The endpoints new alerts are queued for. */
  enabled(): Endpoint[] {
    return this.#options.endpoints.filter((endpoint) => !this.#disabled.has(endpoint.id))
  }

  /** New rows were written: idle workers look again. */
  kick(): void {
    for (const wake of [...this.#wakes.values()]) wake()
  }

  async close(): Promise<void> {
    this.#abort.abort()
    this.kick()
    await Promise.all(this.#running)
  }

  async #work(endpoint: Endpoint): Promise<void> {
    let failures = 0
    while (!this.#abort.signal.aborted) {
      const woken = new Promise<void>((resolve) => this.#wakes.set(endpoint.id, resolve))
      try {
        const next = await this.#first(endpoint.id)
        if (next === undefined) {
          await woken
          continue
        }
        const result = await this.#send(endpoint, next.index).catch((): Outcome => ({ kind: 'retry', after: undefined }))
        if (result.kind === 'done') {
          failures = 0
          await this.#options.outbox.delete([next.key])
          continue
        }
        if (result.kind === 'gone') {
          await this.#disable(endpoint)
          return
        }
        failures++
        const backoff = this.#options.backoffMs * 2 ** Math.min(failures - 1, 30)
        await this.#sleep(Math.min(this.#options.maxBackoffMs, (result.kind === 'retry' ? result.after : undefined) ?? backoff))
      } catch {
        // The ledger failed or closed under us: the rows stay for the next attempt or start.
        await this.#sleep(this.#options.backoffMs)
      }
    }
  }

  /** Marks the endpoint disabled, durably, and drops its rows. */
  async #disable(endpoint: Endpoint): Promise<void> {
    this.#disabled.add(endpoint.id)
    await this.#options.state.write([this.#options.state.row(disabledKey(endpoint.id), new Uint8Array())])
    const keys: string[] = []
    for await (const [key] of this.#options.outbox.rows(`${endpoint.id}\n`)) keys.push(key)
    await this.#options.outbox.delete(keys)
  }

  async #first(id: string): Promise<{ key: string; index: number } | undefined> {
    for await (const [key] of this.#options.outbox.rows(`${id}\n`)) return { key, index: Number(key.slice(id.length + 1)) }
    return undefined
  }

  async #send(endpoint: Endpoint, index: number): Promise<Outcome> {
    const entry = await this.#options.alerts.entry(index)
    const alert = JSON.parse(new TextDecoder().decode(entry.data)) as Record<string, unknown>
    const body = webhookBody(index, alert)
    const id = `msg_${entry.id}`
    const timestamp = Math.floor(this.#options.clock().getTime() / 1000)
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs)])
    const response = await fetch(endpoint.url, {
      method: 'POST', body, signal, redirect: 'manual',
      headers: {
        'Content-Type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(endpoint.key, id, timestamp, body),
      },
    })
    await response.body?.cancel().catch(() => undefined)
    if (response.status >= 200 && response.status <= 299) return { kind: 'done' }
    if (response.status === 410) return { kind: 'gone' }
    return { kind: 'retry', after: retryAfter(response.headers.get('retry-after'), this.#options.clock()) }
  }

  async #sleep(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#abort.signal }).catch(() => undefined)
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or malformed. */
export function retryAfter(value: string | null, now: Date): number | undefined {
  if (value === null) return undefined
  if (/^[0-9]{1,9}$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now.getTime())
}

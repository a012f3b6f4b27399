import { evidenceToJson, type Evidence } from './evidence.js'
import { deadline } from './internal/deadline.js'
import { WitnessError } from './errors.js'

export interface WebhookOptions {
  /** Where alerts are POSTed as JSON. */
  readonly url: string
  /** The witness's name and verifier key, sent with each alert. */
  readonly witness: { readonly name: string; readonly verifierKey: string }
  /** Limit on one alert, in ms. Default 5,000. */
  readonly timeoutMs?: number
  readonly fetch?: typeof fetch
}

/** The alert body: JSON, `type` first. */
export function alertBody(witness: WebhookOptions['witness'], evidence: Evidence): string {
  return JSON.stringify({
    type: 'annal.witness.split-view/v1',
    witness: witness.name,
    verifier_key: witness.verifierKey,
    evidence: evidenceToJson(evidence),
  })
}

/**
 * Posts an alert for each evidence, best effort: one attempt, bounded by timeoutMs; a failure
 * is counted, never thrown (the evidence is stored and served whatever the webhook does).
 */
export class Webhook {
  readonly #options: WebhookOptions
  readonly #timeoutMs: number
  readonly #fetch: typeof fetch
  readonly #inFlight = new Set<Promise<void>>()
  #sent = 0
  #failed = 0

  /** RangeError unless url is http(s). */
  constructor(options: WebhookOptions) {
    if (!/^https?:\/\//.test(options.url) || !URL.canParse(options.url)) throw new RangeError('the webhook must be an http(s) URL')
    this.#options = options
    this.#timeoutMs = options.timeoutMs ?? 5_000
    this.#fetch = options.fetch ?? fetch
  }

  /** Sends in the background; never throws. */
  send(evidence: Evidence): void {
    const sending = this.#post(alertBody(this.#options.witness, evidence)).then(
      () => { this.#sent++ },
      () => { this.#failed++ },
    )
    this.#inFlight.add(sending)
    void sending.finally(() => this.#inFlight.delete(sending))
  }

  async #post(body: string): Promise<void> {
    const { signal, done } = deadline(this.#timeoutMs)
    try {
      const response = await this.#fetch(this.#options.url, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body, signal,
      })
      await response.body?.cancel().catch(() => undefined)
      if (response.status < 200 || response.status > 299) throw new WitnessError('WEBHOOK_FAILED', `webhook answered ${response.status}`)
    } finally {
      done()
    }
  }

  /** Alerts sent (2xx) and failed so far. */
  counts(): { readonly sent: number; readonly failed: number } {
    return { sent: this.#sent, failed: this.#failed }
  }

  /** Waits for alerts in flight (each bounded by its timeout). */
  async close(): Promise<void> {
    await Promise.all(this.#inFlight)
  }
}

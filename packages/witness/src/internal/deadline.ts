/**
 * An AbortSignal that fires after `ms` or when `stop` fires, and a `done` to call when the work
 * is over. A plain timer, since signals made by AbortSignal.any over AbortSignal.timeout can be
 * collected before they fire on Node 20.
 */
export function deadline(ms: number, stop?: AbortSignal): { readonly signal: AbortSignal; done(): void } {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms)
  const onStop = (): void => controller.abort(stop?.reason)
  if (stop?.aborted === true) onStop()
  stop?.addEventListener('abort', onStop, { once: true })
  return {
    signal: controller.signal,
    done() {
      clearTimeout(timer)
      stop?.removeEventListener('abort', onStop)
    },
  }
}

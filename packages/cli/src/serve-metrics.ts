// `annal serve --metrics HOST:PORT`: Prometheus metrics on a listener of their own, so that a
// scraper needs no token and the API's port does not show them.
import { type AnnalApp, type RunningServer, appMetrics, metricsApp, serve } from '@annal/server'
import { parseListen } from '@annal/witness'
import { UsageError } from './failure.js'

export const METRICS_OPTIONS = { metrics: { type: 'string' } } as const

export const METRICS_USAGE = `  --metrics HOST:PORT   serve GET /metrics (Prometheus text format) on a listener of its own
                 (none by default; :PORT is 127.0.0.1:PORT). Health: /healthz and /readyz on the API`

/** --metrics, else ANNAL_METRICS, else `metrics` in the config file. @throws UsageError for a bad address. */
export function metricsAddress(flag: unknown, env: NodeJS.ProcessEnv, file: Record<string, unknown>): string | undefined {
  const address = typeof flag === 'string' ? flag : env.ANNAL_METRICS ?? file.metrics
  if (address === undefined) return undefined
  try {
    if (typeof address !== 'string') throw new RangeError('not a string')
    parseListen(address)
  } catch {
    throw new UsageError('--metrics (ANNAL_METRICS, metrics in the config file) must be HOST:PORT')
  }
  return address
}

/** Serves the app's metrics on `address`, if given (the app was made with `metrics: true`). */
export async function serveMetrics(app: AnnalApp, address: string | undefined,
    out: (line: string) => void): Promise<RunningServer | undefined> {
  const metrics = appMetrics(app)
  if (address === undefined || metrics === undefined) return undefined
  const running = await serve(metricsApp(metrics), parseListen(address))
  out(`metrics on ${running.url}/metrics`)
  return running
}

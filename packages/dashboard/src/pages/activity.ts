import uPlot from 'uplot'
import { h, replace } from '../dom.js'
import { count, utc } from '../format.js'
import { type Page, heading, problem, table } from '../ui.js'

interface Bucket {
  readonly start: string
  readonly requests: number
  readonly appends: number
  readonly refusals: number
  readonly alerts: number
}

interface Activity {
  readonly since: string
  readonly until: string
  readonly bucket_ms: number
  readonly evaluated: number
  readonly buckets: Bucket[]
}

const WINDOWS = ['1h', '24h', '7d', '30d'] as const
const CHARTS = [
  { kind: 'appends', title: 'Appends', color: '#1d4ed8' },
  { kind: 'refusals', title: 'Refusals (401 and 403)', color: '#b91c1c' },
  { kind: 'alerts', title: 'Alerts', color: '#9a3412' },
] as const

/** Charts of appends, refusals and alerts over time, from GET /v1/admin/activity. */
export async function activityPage(page: Page): Promise<void> {
  const since = WINDOWS.find((window) => window === page.params.get('since')) ?? '24h'
  const choose = h('select', { id: 'window', onchange: () => { location.hash = `#/activity?since=${choose.value}` } },
    WINDOWS.map((window) => h('option', { value: window, selected: window === since }, `last ${window}`)))
  const body = h('div', {}, h('p', {}, 'Loading…'))
  replace(page.main, heading('Activity'), h('div', { class: 'toolbar' }, h('label', { for: 'window' }, 'Window'), choose), body)
  let activity: Activity
  try {
    activity = await page.api.json<Activity>(`/v1/admin/activity?since=${since}`, { signal: page.signal })
  } catch (error) {
    replace(body, problem(error))
    return
  }
  // Buckets that counted nothing are not sent: the time axis gets every bucket, zeros included.
  const step = activity.bucket_ms
  const first = Date.parse(activity.since) - (Date.parse(activity.since) % step)
  const times: number[] = []
  for (let time = first; time <= Date.parse(activity.until); time += step) times.push(time / 1000)
  const byStart = new Map(activity.buckets.map((bucket) => [Date.parse(bucket.start) / 1000, bucket]))
  const figures = CHARTS.map(({ kind, title, color }) => {
    const values = times.map((time) => byStart.get(time)?.[kind] ?? 0)
    const total = values.reduce((sum, value) => sum + value, 0)
    const plot = h('div', { class: 'chart', 'aria-hidden': 'true' })
    const figure = h('figure', {}, h('figcaption', {}, h('strong', {}, title), ` · ${count(total)} in the last ${since}`), plot)
    return { figure, plot, title, color, data: [times, values] as uPlot.AlignedData }
  })
  replace(body,
    h('p', { class: 'help' }, `Per ${step === 60_000 ? 'minute' : 'hour'}, in your time zone; counted from the access log as the server reads it ` +
      `(${count(activity.evaluated)} records so far).`),
    h('div', { class: 'charts' }, figures.map((figure) => figure.figure)),
    h('details', {}, h('summary', {}, 'The same figures as a table'),
      activity.buckets.length === 0 ? h('p', {}, 'Nothing counted in this window.')
        : table(`Activity per ${step === 60_000 ? 'minute' : 'hour'}, last ${since}`, ['Bucket (UTC)', 'Requests', 'Appends', 'Refusals', 'Alerts'],
          activity.buckets.map((bucket) => [utc(bucket.start), count(bucket.requests), count(bucket.appends), count(bucket.refusals), count(bucket.alerts)]))))
  const plots = figures.map(({ plot, title, color, data }) => new uPlot({
    width: plot.clientWidth, height: 160, legend: { show: false }, cursor: { drag: { x: false, y: false } },
    scales: { y: { range: (_self, _min, max) => [0, Math.max(1, max)] } },
    series: [{}, { label: title, stroke: color, fill: `${color}33`, width: 1.5, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } }],
    axes: [{}, { size: 48, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 100_000, 1_000_000] }],
  }, data, plot))
  const resize = () => plots.forEach((plot, i) => plot.setSize({ width: figures[i]!.plot.clientWidth, height: 160 }))
  window.addEventListener('resize', resize)
  page.signal.addEventListener('abort', () => {
    window.removeEventListener('resize', resize)
    for (const plot of plots) plot.destroy()
  }, { once: true })
}

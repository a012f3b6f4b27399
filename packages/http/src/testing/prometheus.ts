// Reading a Prometheus text exposition (format 0.0.4) in tests: every sample, with its labels.

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy

/** Every sample of `text`; comments and blank lines are skipped. @throws Error for a line that is neither. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    const body = match[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const label = LABEL.exec(body)
      if (label === null) throw new Error(`bad labels: ${line}`)
      labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3])
    samples.push({ name: match[1]!, labels, value })
  }
  return samples
}

/** Fetches and parses `url` (a /metrics endpoint); throws unless it answers 200 in the text format. */
export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(url)
  const type = response.headers.get('content-type') ?? ''
  if (response.status !== 200 || !type.startsWith('text/plain')) throw new Error(`${url} answered ${response.status} ${type}`)
  return parsePrometheus(await response.text())
}

/**
 * The value of the one sample named `name` whose labels include `labels`; undefined when there
 * is none. @throws Error when several match.
 */
export function sampleValue(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}

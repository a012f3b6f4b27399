import { parseArgs } from 'node:util'
import { parseVerifierKey } from '@annal/note'
import { type RunningWitness, runWitness } from '@annal/witness'
import { configString, configStrings, readConfig, splitKeyUrl } from './config.js'
import { UsageError } from './failure.js'
import { signalled } from './signals.js'
import { storageHealthReporter } from './storage-health.js'

export const WITNESS_USAGE = `usage: annal witness serve --data DIR --name NAME --log VKEY[@URL] [--log ...] [--listen HOST:PORT]
                           [--peer URL ...] [--webhook URL] [--admin HOST:PORT] [--metrics HOST:PORT]
                           [--request-timeout MS] [--body-timeout MS] [--config FILE]

  --data DIR          where the witness keeps its key (witness.key, mode 0600) and state
  --name NAME         the witness's key name; its key is created on first start
  --log VKEY[@URL]    a log to witness: a C2SP verifier key whose name is the log's origin, and
                      optionally its tlog-tiles URL (for an Annal log http://HOST:PORT/v1/logs/NAME):
                      checkpoints of other sizes are then checked for consistency against its tiles
  --listen HOST:PORT  default 127.0.0.1:0 (loopback, any free port)
  --peer URL          another witness to gossip with (pulls its checkpoints every 30 s)
  --webhook URL       where split-view evidence is posted as JSON
  --admin HOST:PORT   loopback-only operator routes (clear evidence: DELETE /v1/evidence/<origin hash>)
  --metrics HOST:PORT GET /metrics (Prometheus text format) on a listener of its own; health is
                      /healthz and /readyz on --listen
  --request-timeout MS  longest a whole request may take (default 30000; headers within 10000)
  --body-timeout MS   longest a request body may take, answered 408 BODY_TIMEOUT (default 20000)
  --config FILE       a JSON file with any of: data, name, listen, logs, peers, webhook, admin, metrics,
                      requestTimeoutMs, bodyTimeoutMs (flags win; a list given by flags replaces the file's)

Example:
  $ annal witness serve --data ./witness --name witness.example --log "$LOG_VKEY@http://127.0.0.1:8080/v1/logs/main"
`

/** The keys a config file for `annal witness serve` may have. */
const CONFIG_KEYS = ['data', 'name', 'listen', 'logs', 'peers', 'webhook', 'admin', 'requestTimeoutMs', 'bodyTimeoutMs']

/**
 * `annal witness serve`: a C2SP tlog-witness on loopback until SIGINT or SIGTERM. Resolves with
 * the exit code once the witness has closed. Storage faults and their recovery are said on `err`.
 */
export async function witnessServe(args: readonly string[], out: (line: string) => void,
    stopped: Promise<unknown> = signalled(), err: (line: string) => void = out): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      data: { type: 'string' },
      name: { type: 'string' },
      log: { type: 'string', multiple: true },
      listen: { type: 'string' },
      peer: { type: 'string', multiple: true },
      webhook: { type: 'string' },
      admin: { type: 'string' },
      metrics: { type: 'string' },
      'request-timeout': { type: 'string' },
      'body-timeout': { type: 'string' },
      config: { type: 'string' },
    },
    strict: true,
  })
  const file = values.config === undefined ? {} : await readConfig(values.config, CONFIG_KEYS)
  const data = values.data ?? configString(file, 'data')
  const name = values.name ?? configString(file, 'name')
  const logs = values.log ?? configStrings(file, 'logs')
  if (data === undefined || name === undefined || logs === undefined || logs.length === 0) {
    throw new UsageError('witness serve needs --data, --name and at least one --log')
  }
  const witness = await start({
    data, name, logs: logs.map(checkedLog),
    listen: values.listen ?? configString(file, 'listen'),
    peers: values.peer ?? configStrings(file, 'peers'),
    webhook: values.webhook ?? configString(file, 'webhook'),
    admin: values.admin ?? configString(file, 'admin'),
    metrics: values.metrics ?? configString(file, 'metrics'),
    requestTimeoutMs: milliseconds(values['request-timeout'], file, 'request-timeout', 'requestTimeoutMs'),
    bodyTimeoutMs: milliseconds(values['body-timeout'], file, 'body-timeout', 'bodyTimeoutMs'),
    onStorageHealth: storageHealthReporter('the witness database', data, 'add-checkpoint requests', err),
  })
  out(`witness ${name} listening on ${witness.url}`)
  if (witness.adminUrl !== undefined) out(`operator routes on ${witness.adminUrl}`)
  if (witness.metricsUrl !== undefined) out(`metrics on ${witness.metricsUrl}/metrics`)
  out(`verifier key: ${witness.verifierKey}`)
  await stopped
  await witness.close()
  return 0
}

/** runWitness, whose RangeErrors are settings it cannot work with: usage errors, exit code 2. */
async function start(options: Parameters<typeof runWitness>[0]): Promise<RunningWitness> {
  try {
    return await runWitness(options)
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message)
    throw error
  }
}

/** `VKEY[@URL]`. @throws UsageError, naming the setting, for a key that does not parse. */
function checkedLog(text: string): ReturnType<typeof splitKeyUrl> {
  const log = splitKeyUrl(text)
  try {
    parseVerifierKey(log.verifierKey)
  } catch {
    throw new UsageError('--log (logs in the config file): a log\'s verifier key is malformed')
  }
  return log
}

/**
 * A duration from its flag (digits) or else the config file (a number), or undefined.
 * @throws UsageError for anything but a positive integer.
 */
function milliseconds(flag: string | undefined, config: Record<string, unknown>, flagName: string,
    configName: string): number | undefined {
  const value = flag === undefined ? config[configName] : /^[0-9]{1,15}$/.test(flag) ? Number(flag) : Number.NaN
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${flagName} (${configName} in the config file) must be a positive whole number of milliseconds`)
  }
  return value
}

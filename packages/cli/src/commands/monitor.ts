import { resolve } from 'node:path'
import { Monitor, SplitViewError, isClientError, type MonitorEntry } from '@annal/client'
import { FileStateStore, writeEvidence } from '@annal/client/node'
import { bytesToHex } from '@annal/tlog'
import type { Context } from '../context.js'
import { UsageError, sentence } from '../failure.js'
import type { Program } from '../program.js'
import { needPolicy, readPolicy, trustOptions, type TrustOptions } from '../trust.js'

interface MonitorOptions extends TrustOptions {
  readonly state: string
  readonly witness: string[]
  readonly evidence?: string
  readonly interval: string
  readonly once?: boolean
}

/** `monitor`: follow a server's log, verifying every checkpoint and entry, until stopped. */
export function registerMonitor(program: Program): void {
  program.command<MonitorOptions, []>(program.root, {
    name: 'monitor',
    description: 'follow a log on a server: verify each checkpoint and entry, print each new entry, stop on a fork',
    example: 'annal monitor --url https://annal.example --policy policy.txt --state monitor.state',
    options: ['json', 'log', 'url'],
    setup: (command) => trustOptions(command)
      .requiredOption('--state <file>', 'where the monitor keeps the checkpoint it trusts and the next entry (resumes from it)')
      .option('--witness <url>', "a witness to hand each new checkpoint to (its /v1/gossip); repeat for more",
        (url: string, previous: string[]) => [...previous, url], [])
      .option('--evidence <file>', 'where to save the evidence of a fork (default: the state file + .evidence)')
      .option('--interval <seconds>', 'how long to wait between polls', '30')
      .option('--once', 'poll once and exit')
      .addHelpText('after', '\nExit codes: 0 stopped by SIGINT or SIGTERM (or --once done), 1 the log failed a check '
        + '(a fork prints SECURITY ERROR and saves the evidence), 2 bad usage.'),
    action: monitor,
  })
}

// Thrown by the entry callback once a stop is asked for: the poll ends before the state moves past the entry.
const STOPPING = new Error('stopping')

async function monitor(ctx: Context, options: MonitorOptions): Promise<void> {
  const policy = needPolicy(await readPolicy(ctx, options), 'a monitor verifies every checkpoint against a policy')
  const remote = await ctx.requireRemote()
  const interval = seconds(options.interval)
  const evidence = resolve(ctx.io.cwd, options.evidence ?? `${options.state}.evidence`)
  const store = await FileStateStore.open(resolve(ctx.io.cwd, options.state))
  const stop = stopOnSignal()
  try {
    const follower = new Monitor(remote.logUrl, {
      policy, store, token: remote.token, witnesses: options.witness,
      onEntry: (entry) => {
        if (stop.requested) throw STOPPING
        printEntry(ctx, entry)
      },
      onGossip: ({ witness, error }) => void (error === undefined ? undefined : ctx.io.err(`annal: witness ${witness}: ${sentence(error)}`)),
    })
    for (;;) {
      try {
        await follower.poll()
      } catch (error) {
        if (error === STOPPING) return
        if (error instanceof SplitViewError) {
          await writeEvidence(evidence, error.evidence)
          ctx.io.err(error.formatEvidence().trimEnd())
          ctx.io.err(`annal: the evidence is saved in ${evidence}`)
        }
        if (options.once === true || !transient(error)) throw error
        ctx.io.err(`annal: ${sentence(error)} Polling again in ${interval} s.`)
      }
      if (options.once === true || await stop.wait(interval * 1000)) return
    }
  } finally {
    stop.dispose()
    await store.close()
  }
}

/** A failure to reach the server or a garbled answer: worth another poll, unlike anything that failed to verify. */
function transient(error: unknown): boolean {
  return (error instanceof TypeError && error.message === 'fetch failed') || isClientError(error, 'RESPONSE_INVALID')
}

function seconds(text: string): number {
  const value = /^(?:[1-9][0-9]*|0)(?:\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN
  if (!(value > 0)) throw new UsageError(`--interval ${JSON.stringify(text)} must be a positive number of seconds`)
  return value
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** One line per entry: index, abbreviated id and what it says; with --json, the entry as the API serves it. */
function printEntry(ctx: Context, { index, bytes, leafHash }: MonitorEntry): void {
  const id = bytesToHex(leafHash)
  const parsed = json(bytes)
  if (ctx.json) {
    const body = parsed === undefined ? { leaf_base64: Buffer.from(bytes).toString('base64') } : { envelope: parsed }
    ctx.io.out(JSON.stringify({ index, id, ...body }))
    return
  }
  ctx.io.out(`${index} ${id.slice(0, 12)} ${summary(parsed, bytes.length)}`)
}

function json(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown
  } catch {
    return undefined
  }
}

/** An Annal envelope as its time, who appended and what; other JSON as itself, cut short; other bytes as their count. */
function summary(value: unknown, size: number): string {
  if (value === undefined) return `(${size} bytes, not JSON)`
  const envelope = value as { time?: unknown; actor?: { sub?: unknown; client_id?: unknown }; object?: { content_type?: unknown; size?: unknown } }
  if (typeof envelope.time === 'string' && typeof envelope.object === 'object' && envelope.object !== null) {
    const who = envelope.actor?.sub ?? envelope.actor?.client_id ?? 'unknown'
    return `${envelope.time} ${String(who)} ${String(envelope.object.content_type)} ${String(envelope.object.size)} bytes`
  }
  const text = JSON.stringify(value)
  return text.length > 100 ? `${text.slice(0, 99)}…` : text
}

/** SIGINT or SIGTERM as a flag checked between entries, and a wait between polls that a signal ends early. */
function stopOnSignal() {
  let requested = false
  let wake = (): void => undefined
  const onSignal = (): void => {
    requested = true
    wake()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    get requested() {
      return requested
    },
    /** Resolves with true when a stop was asked for, false when `ms` passed. */
    wait: (ms: number) => new Promise<boolean>((done) => {
      if (requested) return done(true)
      const timer = setTimeout(() => done(false), ms)
      wake = () => {
        clearTimeout(timer)
        done(true)
      }
    }),
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}

// Verifying an entry in the browser with @annal/client: the dashboard shows what the log holds
// only once the log's own signature, its witnesses and a Merkle proof say so, not the server.
import {
  ClientError, type Policy, type TrustedCheckpoint, parsePolicy, verifyCheckpoint, verifyIncluded, verifyLogSignature,
} from '@annal/client'
import { TILE_WIDTH, decodeEntryBundle, defaultHasher, entryBundlePath, hexToBytes, nobleHashProvider } from '@annal/tlog'
import { type Api, ApiProblem } from './api.js'
import { bytesToHex } from './format.js'

/** A log as GET /v1/logs/{log} answers it. */
export interface LogView {
  readonly name: string
  readonly origin: string
  readonly verifier_key: string
  readonly size: number
  readonly root: string
  readonly witnessing: null | {
    readonly k: number
    readonly policy_met_size: number | null
    readonly witnesses: readonly {
      readonly name: string
      readonly configured: boolean
      readonly verifier_key?: string | null
      readonly cosigned_size: number | null
      readonly failures: number
      readonly last_error: string | null
      readonly failing_since: string | null
    }[]
  }
}

/** An entry as GET /v1/logs/{log}/entries/{ref} serves it. */
export interface EntryView {
  readonly index: number
  readonly id: string
  readonly envelope?: unknown
  readonly leaf_base64?: string
  readonly payload?: unknown
  readonly payload_erased?: true
  readonly payload_omitted?: string
}

export type StepState = 'pending' | 'running' | 'passed' | 'failed' | 'skipped'

export interface Step {
  readonly title: string
  state: StepState
  detail: string
}

/** The checks, in order; each is shown as it runs. */
export const STEP_TITLES = [
  'Trust policy',
  'Checkpoint signed by the log key',
  'Witness cosignatures meet the policy',
  'Leaf bytes are the entry shown',
  'Inclusion proof reaches the checkpoint root',
  'Payload matches the hash the entry commits to',
] as const

/**
 * A C2SP tlog-policy from what the server says of the log: its key, and, for a witnessed log, its
 * configured witnesses' keys with a group of k. Trusting it trusts the server's word on keys;
 * pasting a policy from elsewhere does not.
 */
export function policyFromServer(log: LogView, origin: string): string {
  const lines = [`# as ${origin}/v1/logs/${log.name} states it`, `log ${log.verifier_key}`]
  const witnesses = (log.witnessing?.witnesses ?? []).filter((witness) => typeof witness.verifier_key === 'string')
  if (log.witnessing === null || witnesses.length === 0) return `${[...lines, 'quorum none'].join('\n')}\n`
  for (const witness of witnesses) lines.push(`witness ${witness.name} ${witness.verifier_key}`)
  const k = Math.min(log.witnessing.k, witnesses.length)
  lines.push(`group witnessing ${k} ${witnesses.map((witness) => witness.name).join(' ')}`, 'quorum witnessing')
  return `${lines.join('\n')}\n`
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** JSON with object members sorted, for comparing two parsed values. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => inner !== null && typeof inner === 'object' && !Array.isArray(inner)
    ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner)
}

/** Whether the leaf bytes are what the page shows of the entry: its envelope parsed, or its base64. */
export function leafShows(leaf: Uint8Array, entry: EntryView): boolean {
  if (entry.leaf_base64 !== undefined) return btoa(String.fromCharCode(...leaf)) === entry.leaf_base64
  try {
    return sortedJson(JSON.parse(utf8.decode(leaf))) === sortedJson(entry.envelope)
  } catch {
    return false
  }
}

/** The entry's leaf from the entry bundle that holds it in the tree of `size` (C2SP tlog-tiles). */
export async function leafBytes(api: Api, logPath: string, index: number, size: number): Promise<Uint8Array> {
  const bundle = Math.floor(index / TILE_WIDTH)
  const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH)
  const leaves = decodeEntryBundle(await api.bytes(`${logPath}/${entryBundlePath(bundle, width)}`))
  const leaf = leaves[index % TILE_WIDTH]
  if (leaves.length !== width || leaf === undefined) throw new Error(`the entry bundle holds ${leaves.length} entries, not ${width}`)
  return leaf
}

/**
 * Runs the checks for `entry` of `log`, telling `update` after each; resolves true when all
 * passed (the payload step may be skipped). `policyText` defaults to policyFromServer(log).
 */
export async function verifyEntry(api: Api, log: LogView, entry: EntryView, policyText: string,
    update: (steps: readonly Step[]) => void): Promise<boolean> {
  const steps: Step[] = STEP_TITLES.map((title) => ({ title, state: 'pending', detail: '' }))
  const logPath = `/v1/logs/${encodeURIComponent(log.name)}`
  let at = 0
  const run = async (check: () => Promise<string | { skipped: string }>) => {
    const step = steps[at]!
    step.state = 'running'
    update(steps)
    const outcome = await check()
    if (typeof outcome === 'string') {
      step.state = 'passed'
      step.detail = outcome
    } else {
      step.state = 'skipped'
      step.detail = outcome.skipped
    }
    at++
    update(steps)
  }
  try {
    let policy!: Policy
    let note = ''
    let trusted!: TrustedCheckpoint
    let leafHash!: Uint8Array
    await run(async () => {
      policy = parsePolicy(policyText)
      const witnesses = policy.witnesses.length
      return `the log key ${policy.logs.map((item) => item.verifier.name).join(', ')}` +
        (witnesses === 0 ? ', no witnesses required' : ` and ${witnesses} witness key${witnesses === 1 ? '' : 's'}`)
    })
    await run(async () => {
      note = await api.text(`${logPath}/checkpoint`)
      const { checkpoint } = verifyLogSignature(note, policy)
      return `size ${checkpoint.size}, root ${bytesToHex(checkpoint.rootHash)}, signed by ${checkpoint.origin}`
    })
    await run(async () => {
      trusted = verifyCheckpoint(note, policy)
      if (policy.witnesses.length === 0) return { skipped: 'the policy requires no witness (quorum none)' }
      return `cosigned by ${trusted.witnesses.join(', ')}: the quorum is met`
    })
    const size = trusted.checkpoint.size
    if (entry.index >= size) {
      throw new ClientError('INCLUSION_FAILED', `entry ${entry.index} is past the checkpoint of size ${size}: ` +
        'for a witnessed log, wait until its witnesses cosign a newer one')
    }
    await run(async () => {
      const leaf = await leafBytes(api, logPath, entry.index, size)
      leafHash = defaultHasher.leaf(leaf)
      if (bytesToHex(leafHash) !== entry.id) throw new Error(`the leaf hashes to ${bytesToHex(leafHash)}, not the entry's id ${entry.id}`)
      if (!leafShows(leaf, entry)) throw new Error('the leaf bytes are not the envelope shown')
      return `SHA-256(0x00 ‖ ${leaf.length} bytes) = ${entry.id}, the id shown; the envelope shown is these bytes`
    })
    await run(async () => {
      const proof = await api.json<{ proof: string[] }>(`${logPath}/proof/inclusion?index=${entry.index}&tree_size=${size}`)
      verifyIncluded(entry.index, leafHash, proof.proof.map((hex) => hexToBytes(hex)), trusted)
      return `${proof.proof.length} hashes lead from leaf ${entry.index} to the root of size ${size}`
    })
    await run(() => checkPayload(api, entry))
    return true
  } catch (error) {
    const step = steps[at]!
    step.state = 'failed'
    step.detail = error instanceof ClientError ? `${error.code}: ${error.message}` : (error as Error).message
    update(steps)
    return false
  }
}

async function checkPayload(api: Api, entry: EntryView): Promise<string | { skipped: string }> {
  const object = (entry.envelope as { object?: { hash?: unknown } } | undefined)?.object
  if (typeof object?.hash !== 'string') return { skipped: 'no payload: the leaf is the whole record' }
  if (entry.payload_erased === true) return { skipped: 'the payload was erased; the entry and its proofs stay valid' }
  let bytes: Uint8Array
  try {
    bytes = await api.bytes(`/v1/objects/${object.hash}`)
  } catch (error) {
    if (error instanceof ApiProblem && error.status === 403) return { skipped: 'this token cannot read objects (that needs log:read for every log)' }
    if (error instanceof ApiProblem && error.status === 410) return { skipped: 'the payload was erased; the entry and its proofs stay valid' }
    throw error
  }
  const digest = `sha256:${bytesToHex(nobleHashProvider.sha256(bytes))}`
  if (digest !== object.hash) throw new Error(`the payload hashes to ${digest}, not ${object.hash}`)
  if ('payload' in entry && sortedJson(JSON.parse(utf8.decode(bytes))) !== sortedJson(entry.payload)) {
    throw new Error('the payload shown is not the stored bytes')
  }
  return `${bytes.length} bytes hash to ${object.hash}${'payload' in entry ? ', the payload shown' : ''}`
}

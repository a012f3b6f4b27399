import {
  LogClient, SplitViewError, checkConsistent, isClientError, proofNeeded, verifyCheckpoint, verifyProof,
  type ClientError, type Policy, type TrustedCheckpoint,
} from '@annal/client'
import type { Log } from '@annal/store'
import { assembleProof, bytesToHex, defaultHasher, nodeFromTiles, planTiles, rootPlan } from '@annal/tlog'
import type { Context } from '../context.js'
import { parseEntryRef } from '../entry-ref.js'
import { Failure, UsageError } from '../failure.js'
import { readInput } from '../input.js'
import type { Program } from '../program.js'
import { keyPolicy, needPolicy, readPolicy, trustOptions, type TrustOptions } from '../trust.js'

/** `proof`, `verify` and `consistency`: proofs out of a log, and their offline checks. */
export function registerProofs(program: Program): void {
  program.command<TrustOptions, [string]>(program.root, {
    name: 'proof',
    description: "write an entry's C2SP tlog-proof (its inclusion proof and the checkpoint) to stdout",
    example: 'annal proof 3 > entry.tlog-proof\nannal proof 9f2c41d0 --url https://annal.example --policy policy.txt > entry.tlog-proof',
    options: ['data', 'log', 'url'],
    setup: (command) => trustOptions(command.argument('<ref>', 'the entry: its index, its id or an abbreviated id'))
      .addHelpText('after', '\nWith --url, the proof is verified against --policy or --key before it is written.'),
    action: writeProof,
  })
  program.command<TrustOptions, [string, string]>(program.root, {
    name: 'verify',
    description: 'verify an entry and its tlog-proof offline against a trust policy: exit 0 only when it verifies',
    example: 'annal verify entry.leaf entry.tlog-proof --policy policy.txt',
    options: ['json'],
    setup: (command) => trustOptions(command
      .argument('<entry-file>', "the entry's leaf bytes, as 'annal show --leaf' writes them (- for stdin)")
      .argument('<proof-file>', "the tlog-proof, as 'annal proof' writes it (- for stdin)")),
    action: verifyFiles,
  })
  program.command<TrustOptions, [string]>(program.root, {
    name: 'consistency',
    description: 'check that the log extends an older checkpoint, and print its current checkpoint',
    example: 'annal consistency old.checkpoint > new.checkpoint\n'
      + 'annal consistency old.checkpoint --url https://annal.example --policy policy.txt > new.checkpoint',
    options: ['json', 'data', 'log', 'url'],
    setup: (command) => trustOptions(command.argument('<old-checkpoint>', 'a checkpoint note trusted before (- for stdin)'))
      .addHelpText('after', "\nA local ledger is checked against its own key unless --policy or --key is given."),
    action: checkConsistency,
  })
}

async function writeProof(ctx: Context, options: TrustOptions, text: string): Promise<void> {
  const ref = parseEntryRef(text)
  const policy = await readPolicy(ctx, options)
  const remote = await ctx.remote()
  if (remote !== undefined) {
    const checked = needPolicy(policy, 'a proof from a server is verified before it is written')
    const client = new LogClient(remote.logUrl, { policy: checked, token: remote.token })
    ctx.io.write(await reaching(remote.url, client.proofFile(ref)))
    return
  }
  const name = await ctx.logName()
  ctx.io.write(await ctx.withLedger(async (ledger) => {
    const log = ledger.log(name)
    const proof = await log.tlogProof(ref, await log.cosignedCheckpoint())
    if (policy !== undefined) verifyProof(proof, (await log.entry(ref)).data, policy)
    return proof
  }))
}

async function verifyFiles(ctx: Context, options: TrustOptions, entryFile: string, proofFile: string): Promise<void> {
  if (entryFile === '-' && proofFile === '-') throw new UsageError('only one of the entry and the proof can come from stdin')
  const policy = needPolicy(await readPolicy(ctx, options), 'verifying needs what to trust')
  const entry = await readInput(ctx, entryFile, 'the entry file')
  const proof = await readInput(ctx, proofFile, 'the proof file')
  let verified: ReturnType<typeof verifyProof>
  try {
    verified = verifyProof(proof, entry, policy)
  } catch (error) {
    if (!isClientError(error)) throw error
    ctx.print({ verified: false, code: error.code, reason: error.message }, () => undefined)
    const hint = error.code === 'INCLUSION_FAILED' ? "; the entry file must hold the leaf bytes that 'annal show --leaf' writes" : ''
    throw new Failure(`not verified: ${reason(error)}${hint}`, { cause: error })
  }
  const { checkpoint, witnesses } = verified.trusted
  const id = bytesToHex(verified.leafHash)
  ctx.print({ verified: true, origin: checkpoint.origin, index: verified.index, tree_size: checkpoint.size, id, witnesses }, () => {
    ctx.io.out(`verified: entry ${verified.index} (${id.slice(0, 12)}) is in ${checkpoint.origin} at tree size ${checkpoint.size}`)
    ctx.io.out(`cosigned by: ${witnesses.length === 0 ? 'no witness (the policy asks for none)' : witnesses.join(', ')}`)
  })
}

async function checkConsistency(ctx: Context, options: TrustOptions, oldFile: string): Promise<void> {
  const oldNote = await readInput(ctx, oldFile, 'the old checkpoint')
  const policy = await readPolicy(ctx, options)
  let old: TrustedCheckpoint
  let latest: TrustedCheckpoint
  try {
    [old, latest] = await consistentPair(ctx, oldNote, oldFile, policy)
  } catch (error) {
    if (error instanceof SplitViewError) ctx.io.err(error.formatEvidence().trimEnd())
    throw error
  }
  const { size, note } = latest.checkpoint
  if (ctx.json) ctx.io.out(JSON.stringify({ consistent: true, old_size: old.checkpoint.size, size, checkpoint: note }))
  else {
    ctx.io.write(note)
    ctx.io.err(`consistent: the log at size ${size} extends the checkpoint of size ${old.checkpoint.size}`)
  }
}

/** The old checkpoint and the log's latest, verified and proven consistent, from the server or the local ledger. */
async function consistentPair(ctx: Context, oldNote: Uint8Array, oldFile: string, policy: Policy | undefined)
    : Promise<[TrustedCheckpoint, TrustedCheckpoint]> {
  const remote = await ctx.remote()
  if (remote === undefined) {
    const name = await ctx.logName()
    return ctx.withLedger((ledger) => localConsistency(ledger.log(name), oldNote, oldFile, policy))
  }
  const checked = needPolicy(policy, "a server's checkpoint is verified against a policy")
  const old = trustedOld(oldNote, checked, oldFile)
  const client = new LogClient(remote.logUrl, { policy: checked, token: remote.token })
  return [old, await reaching(remote.url, client.consistency(old))]
}

/** The local log's latest checkpoint, proven to extend the old one; trusted by `policy` or the log's own key. */
async function localConsistency(log: Log, oldNote: Uint8Array, oldFile: string, policy: Policy | undefined)
    : Promise<[TrustedCheckpoint, TrustedCheckpoint]> {
  const checked = policy ?? keyPolicy(log.info.verifierKey, `the key of log ${log.info.name}`)
  const old = trustedOld(oldNote, checked, oldFile)
  const latest = verifyCheckpoint(await log.cosignedCheckpoint(), checked)
  const [from, to] = [old.checkpoint, latest.checkpoint]
  const proof = proofNeeded(from, to) ? await log.consistencyProof(from.size, to.size) : []
  await checkConsistent(from, to, proof, (size) => treeHash(log, size, to.size))
  return [old, latest]
}

/** The old checkpoint, verified. @throws Failure naming the file when it does not verify. */
function trustedOld(note: Uint8Array, policy: Policy, file: string): TrustedCheckpoint {
  try {
    return verifyCheckpoint(note, policy)
  } catch (error) {
    if (!isClientError(error)) throw error
    throw new Failure(`${file} does not verify against the policy: ${reason(error)}`, { cause: error })
  }
}

/** A ClientError as one clause: what did not verify, and its code. */
function reason(error: ClientError): string {
  return `${error.message.replace(/[.\s]+$/, '')} (${error.code})`
}

/** `work`, a request to the server at `url`, with a network failure said in one sentence. */
async function reaching<T>(url: string, work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (!(error instanceof TypeError) || error.message !== 'fetch failed') throw error
    const cause = error.cause instanceof Error ? error.cause.message : 'a network error'
    throw new Failure(`cannot reach ${url}: ${cause}; check --url or ANNAL_URL`, { cause: error })
  }
}

/** The root of the first `size` entries of the local log at `treeSize`, folded from its hash tiles. */
async function treeHash(log: Log, size: number, treeSize: number): Promise<Uint8Array> {
  const plan = rootPlan(size)
  const tiles = new Map<string, Uint8Array>()
  for (const tile of planTiles(plan, treeSize)) {
    tiles.set(`${tile.level}/${tile.index}`, await log.hashTile(tile.level, tile.index, tile.width))
  }
  return assembleProof(plan, (node) => nodeFromTiles(node, treeSize, (tile) => tiles.get(`${tile.level}/${tile.index}`)), defaultHasher)[0]!
}

// npm run bench -w packages/witness: (1) add-checkpoint requests per second on one witness, each
// with a real consistency proof over a 1,000,000-entry log, from one origin and from 8 origins
// at once; (2) the time from an append's integration to a 2-of-3 cosigned checkpoint, loopback.
import { type ChildProcess, fork } from 'node:child_process'
import { Agent, request } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeEd25519, nodeHashProvider, nodeHasher } from '@annal/crypto-node'
import { type NoteSigner, formatAddCheckpoint, generateKeyPair, parseSignerKey, signCheckpoint } from '@annal/note'
import { MemoryTree } from '@annal/tlog'
import { formatRate, goal, machineLine, prng, report } from '../../../scripts/bench.js'

const BASE = 1_000_000
const MAX_STEP = 100
const PHASE_REQUESTS = 12_000
const PHASE_SECONDS = 5
const ORIGINS = 8
const providers = { hash: nodeHashProvider, signature: nodeEd25519 }
/** WITNESS_BENCH_CPU_PROF=DIR writes a CPU profile of the phase-1 witness process into DIR. */
const profileDir = process.env.WITNESS_BENCH_CPU_PROF
const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]

console.log(`witness benchmark: ${machineLine()}`)
const tree = buildTree()
const one = await addCheckpointPhase(1)
// One origin's requests cannot overlap (each carries the size the last one set), so it measures
// latency; the goal is read against many origins at once (docs/benchmarks.md).
report('add-checkpoint, 1 origin (sequential)', formatRate(one.rate), `${one.count} requests, all 200`)
report('  witness process CPU per request', `${(one.cpuSeconds / one.count * 1e6).toFixed(0)} µs`)
const many = await addCheckpointPhase(ORIGINS)
report(`add-checkpoint, ${ORIGINS} origins at once`, formatRate(many.rate), `${many.count} requests, all 200; ${goal(many.rate >= 2000, '>= 2,000/s')}`)
report('  witness process CPU per request', `${(many.cpuSeconds / many.count * 1e6).toFixed(0)} µs`)
// The time from an append to a 2-of-3 cosigned checkpoint spans the server and three witnesses:
// it is measured by the cross-package benchmark, npm run bench -w test.

/** A tree of BASE leaves plus room for every size the phases submit. */
function buildTree(): MemoryTree {
  const total = BASE + PHASE_REQUESTS * MAX_STEP
  const start = performance.now()
  const built = new MemoryTree(nodeHasher)
  const leaf = new Uint8Array(64)
  for (let from = 0; from < total; from += 10_000) {
    const batch: Uint8Array[] = []
    for (let i = from; i < Math.min(total, from + 10_000); i++) {
      new DataView(leaf.buffer).setUint32(0, i)
      batch.push(nodeHasher.leaf(leaf))
    }
    built.appendMany(batch)
  }
  report('tree built (leaves, seconds)', `${total.toLocaleString('en-US')}`, `${((performance.now() - start) / 1000).toFixed(1)} s`)
  return built
}

interface Origin {
  readonly signer: NoteSigner
  readonly verifierKey: string
  /** Add-checkpoint bodies, each from the previous body's size; the first from BASE. */
  readonly bodies: string[]
}

/** An origin whose checkpoints step through the tree from 0 to BASE, then by 1..MAX_STEP. */
function makeOrigin(name: string, steps: number, random: () => number): Origin {
  const keys = generateKeyPair(name, { providers })
  const signer = parseSignerKey(keys.signerKey, { providers })
  const sign = (size: number): string =>
    signCheckpoint({ origin: name, size, rootHash: tree.root(size), extensions: [] }, signer)
  const bodies = [formatAddCheckpoint(0, [], sign(BASE))]
  let size = BASE
  for (let i = 0; i < steps; i++) {
    const next = size + 1 + Math.floor(random() * MAX_STEP)
    bodies.push(formatAddCheckpoint(size, tree.consistencyProof(size, next), sign(next)))
    size = next
  }
  return { signer, verifierKey: keys.verifierKey, bodies }
}

/** One witness in its own process; `origins` send their bodies concurrently, each in order. */
async function addCheckpointPhase(count: number): Promise<{ rate: number; count: number; cpuSeconds: number }> {
  const random = prng(0x5eed + count)
  const origins = Array.from({ length: count }, (_, i) =>
    makeOrigin(`bench.example/log-${count}-${i}`, Math.ceil(PHASE_REQUESTS / count), random))
  const data = await mkdtemp(join(tmpdir(), 'annal-bench-witness-'))
  const child = fork(fileURLToPath(new URL('./serve.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', '--conditions=source', ...profile],
  })
  const agent = new Agent({ keepAlive: true, maxSockets: count })
  try {
    const { url } = await ask<{ url: string }>(child, { data, logs: origins.map((o) => o.verifierKey) })
    // The first body of each origin (old 0, size BASE) is set-up, not timed.
    for (const origin of origins) await post(agent, url, origin.bodies[0]!)
    await ask(child, 'cpu')
    const deadline = performance.now() + PHASE_SECONDS * 1000
    let sent = 0
    const start = performance.now()
    await Promise.all(origins.map(async (origin) => {
      for (let i = 1; i < origin.bodies.length && performance.now() < deadline; i++) {
        await post(agent, url, origin.bodies[i]!)
        sent++
      }
    }))
    const seconds = (performance.now() - start) / 1000
    const { cpuSeconds } = await ask<{ cpuSeconds: number }>(child, 'cpu')
    return { rate: sent / seconds, count: sent, cpuSeconds }
  } finally {
    agent.destroy()
    await ask(child, 'close').catch(() => child.kill())
    await rm(data, { recursive: true, force: true })
  }
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (answer) => resolve(answer as T))
    child.once('error', reject)
    child.send(message as string)
  })
}

/** POSTs one add-checkpoint body; throws unless the witness answers 200. */
function post(agent: Agent, url: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/add-checkpoint`, {
      method: 'POST', agent, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        if (res.statusCode === 200) resolve()
        else reject(new Error(`witness answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`))
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

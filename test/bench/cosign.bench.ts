// npm run bench -w test: the time from an append's integration to a 2-of-3 cosigned checkpoint,
// on loopback, with the real server-side Witnessing and three real witnesses.
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { appWitnessing, createApp } from '@annal/server'
import { Ledger } from '@annal/store'
import { type RunningWitness, runWitness } from '@annal/witness'
import { SignJWT, exportJWK, generateKeyPair as generateJwk } from 'jose'
import { goal, machineLine, report } from '../../scripts/bench.js'

const APPENDS = 200

console.log(`cosigning benchmark: ${machineLine()}`)
const latency = await cosignLatency()
report('append to 2-of-3 cosigned checkpoint, median', `${latency.p50.toFixed(1)} ms`, `${APPENDS} appends; ${goal(latency.p50 < 50, '< 50 ms')}`)
report('append to 2-of-3 cosigned checkpoint, p90', `${latency.p90.toFixed(1)} ms`)
report('  append to the first cosignature, median', `${latency.firstP50.toFixed(1)} ms`)

/**
 * A ledger and the app with three witnesses, policy 2 of 3, all in this process: the time from
 * `log.append` resolving to the log holding >= 2 cosignatures for that size, polled every 1 ms.
 * After each append the cosigner is kicked, as the HTTP append route does.
 */
async function cosignLatency(): Promise<{ p50: number; p90: number; firstP50: number }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-bench-cosign-'))
  const ledger = await Ledger.open(join(directory, 'ledger'), { originPrefix: 'annal.test' })
  await ledger.createLog('events')
  const log = ledger.log('events')
  const logKey = log.info.verifierKey
  const witnesses: RunningWitness[] = []
  try {
    for (let i = 0; i < 3; i++) {
      witnesses.push(await runWitness({ data: join(directory, `w${i}`), name: `w${i}.bench`, logs: [logKey] }))
    }
    const { publicKey, privateKey } = await generateJwk('ES256')
    const app = await createApp({
      ledger,
      auth: { issuer: 'https://issuer.test', audience: 'https://annal.test/', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' }] } },
      witnesses: witnesses.map((w, i) => ({ name: `w${i}.bench`, url: w.url, verifierKey: w.verifierKey })),
      policy: { k: 2 },
    })
    const admin = await new SignJWT({ scope: 'log:admin', client_id: 'bench' }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k' })
      .setIssuer('https://issuer.test').setAudience('https://annal.test/').setSubject('bench').setIssuedAt().setExpirationTime('1h')
      .setJti(randomUUID()).sign(privateKey)
    const witnessed = await app.request('/v1/logs/events/witnessing', {
      method: 'PUT', body: JSON.stringify({ witnessing: {}, reason: 'benchmark' }),
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
    })
    if (witnessed.status !== 200) throw new Error(`setting the policy answered ${witnessed.status}`)
    const cosigner = appWitnessing(app)!
    const times: number[] = []
    const firsts: number[] = []
    for (let i = 0; i < APPENDS + 10; i++) {
      const { checkpoint } = await log.append([new TextEncoder().encode(`event ${i} ${randomUUID()}`)])
      const start = performance.now()
      cosigner.kick()
      let first = 0
      for (let held = 0; held < 2; held = (await log.cosignatures(checkpoint.size)).length) {
        if (held === 1 && first === 0) first = performance.now() - start
        await sleep(1)
      }
      if (i < 10) continue // the first 10 warm up connections
      times.push(performance.now() - start)
      firsts.push(first || times.at(-1)!)
    }
    await cosigner.close()
    return { p50: quantile(times, 0.5), p90: quantile(times, 0.9), firstP50: quantile(firsts, 0.5) }
  } finally {
    for (const witness of witnesses) await witness.close()
    await ledger.close()
    await rm(directory, { recursive: true, force: true })
  }
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

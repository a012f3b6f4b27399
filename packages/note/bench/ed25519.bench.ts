// npm run bench -w packages/note: Ed25519 and checkpoint signing/opening per second, per provider.
// The node:crypto provider comes from the workspace (@annal/crypto-node); it is not a dependency
// of this package, so the package graph stays acyclic.
import { nodeEd25519, nodeHashProvider } from '@annal/crypto-node'
import {
  type NoteProviders, defaultProviders, generateKeyPair, openCheckpoint, parseSignerKey, signCheckpoint,
} from '@annal/note'
import { formatRate, machineLine, opsPerSecond, report } from '../../../scripts/bench.js'

const SIGNS = 5000
const VERIFIES = 5000

console.log(`note benchmark: ${machineLine()}`)
const baseline = run(defaultProviders)
const native = run({ hash: nodeHashProvider, signature: nodeEd25519 })
console.log(`\nnode:crypto / @noble: sign ${(native.sign / baseline.sign).toFixed(1)}x, verify ${(native.verify / baseline.verify).toFixed(1)}x`)

function run(providers: NoteProviders): { sign: number; verify: number } {
  console.log(`\nprovider ${providers.signature.name}`)
  const ed = providers.signature
  const seed = new Uint8Array(32).fill(3)
  const publicKey = ed.publicKey(seed)
  const message = new TextEncoder().encode('example.com/log\n1000000\nq7h0KZbDlKjjQ4GGIm4g1RUe3ovB3EXfz0mNUtijPe0=\n')
  const signature = ed.sign(seed, message)
  const sign = opsPerSecond(SIGNS, () => {
    for (let i = 0; i < SIGNS; i++) ed.sign(seed, message)
  })
  const verify = opsPerSecond(VERIFIES, () => {
    for (let i = 0; i < VERIFIES; i++) ed.verify(publicKey, message, signature)
  })
  report('Ed25519 sign (checkpoint-sized message)', formatRate(sign))
  report('Ed25519 verify', formatRate(verify))

  const keys = generateKeyPair('example.com/log', { providers })
  const signer = parseSignerKey(keys.signerKey, { providers })
  const checkpoint = { origin: 'example.com/log', size: 1_000_000, rootHash: new Uint8Array(32).fill(9), extensions: [] }
  const note = signCheckpoint(checkpoint, signer)
  report('signCheckpoint (format + sign)', formatRate(opsPerSecond(SIGNS, () => {
    for (let i = 0; i < SIGNS; i++) signCheckpoint(checkpoint, signer)
  })))
  report('openCheckpoint (parse + verify)', formatRate(opsPerSecond(VERIFIES, () => {
    for (let i = 0; i < VERIFIES; i++) openCheckpoint(note, [signer.verifier])
  })))
  return { sign, verify }
}

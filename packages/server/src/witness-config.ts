import { nodeEd25519, nodeHashProvider } from '@annal/crypto-node'
import { type NoteVerifier, SIGNATURE_TYPE_COSIGNATURE_V1, parseVerifierKey } from '@annal/note'

// node:crypto verifies Ed25519 an order of magnitude faster than the portable provider.
export const NODE_PROVIDERS = { hash: nodeHashProvider, signature: nodeEd25519 }

/** One witness the server may submit a log's checkpoints to (C2SP tlog-witness). */
export interface WitnessConfig {
  /** The witness's key name; must equal the name in `verifierKey`. */
  readonly name: string
  /** The submission prefix: checkpoints go to `<url>/add-checkpoint`. http(s). */
  readonly url: string
  /** The witness's C2SP verifier key, type 0x04 (tlog-cosignature v1). */
  readonly verifierKey: string
}

/** A configured witness, parsed. */
export interface Witness {
  readonly name: string
  readonly endpoint: string
  readonly verifier: NoteVerifier
  /** The verifier key as configured, for clients to check cosignatures with. */
  readonly verifierKey: string
}

/** Checks and parses the witness list (it may be empty). RangeError or TypeError for bad configuration. */
export function parseWitnesses(configs: readonly WitnessConfig[]): Witness[] {
  if (!Array.isArray(configs)) throw new TypeError('witnesses must be an array')
  const names = new Set<string>()
  return configs.map((config) => {
    const verifier = parseVerifierKey(config.verifierKey, { providers: NODE_PROVIDERS })
    if (verifier.type !== SIGNATURE_TYPE_COSIGNATURE_V1) throw new RangeError('witness verifier keys must be type 0x04')
    if (verifier.name !== config.name) throw new RangeError('a witness name must equal its verifier key name')
    if (names.has(config.name)) throw new RangeError('two witnesses share a name')
    names.add(config.name)
    const url = new URL(config.url)
    if (!/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
      throw new TypeError('a witness url is http(s) without query or fragment')
    }
    return { name: config.name, endpoint: `${url.href.replace(/\/$/, '')}/add-checkpoint`, verifier, verifierKey: config.verifierKey }
  })
}

export function positive(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer`)
  return n
}

import { decodeBase64Hash, encodeBase64, parseCheckpoint, parseNote } from '@annal/note'
import { bytesEqual, bytesToHex, concatBytes, nobleHashProvider, type HashProvider } from '@annal/tlog'
import { WitnessError } from './errors.js'

/** What a witness keeps per origin: the latest checkpoint it cosigned. */
export interface WitnessState {
  readonly size: number
  readonly rootHash: Uint8Array
  /** The checkpoint with the log signatures the witness verified and its own cosignature. */
  readonly note: string
}

const STATE_TAG = 0x57 // 'W'
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** Lowercase hex SHA-256 of the origin line (without its newline): tlog-witness's `<origin hash>`. */
export function originHash(origin: string, hash: HashProvider = nobleHashProvider): string {
  return bytesToHex(hash.sha256(utf8.encode(origin)))
}

/** The storage key of an origin's state: 'W' then SHA-256(origin). */
export function stateKey(origin: string, hash: HashProvider = nobleHashProvider): Uint8Array {
  return concatBytes(Uint8Array.of(STATE_TAG), hash.sha256(utf8.encode(origin)))
}

/** The stored form: JSON `{"size","root","note"}`, root in base64. */
export function encodeState(state: WitnessState): Uint8Array {
  return utf8.encode(JSON.stringify({ size: state.size, root: encodeBase64(state.rootHash), note: state.note }))
}

function corrupt(message: string, cause?: unknown): WitnessError {
  return new WitnessError('CORRUPTION', message, { cause })
}

/**
 * Reads a stored state and checks that it agrees with itself: the note is a checkpoint of the
 * stored size and root. Signatures are not re-verified (the log's keys may have been rotated
 * since). Throws CORRUPTION.
 */
export function decodeState(bytes: Uint8Array): WitnessState {
  let value: { size?: unknown; root?: unknown; note?: unknown }
  try {
    value = JSON.parse(utf8Decoder.decode(bytes)) as typeof value
  } catch (error) {
    throw corrupt('witness state is not JSON', error)
  }
  const { size, root, note } = value ?? {}
  const rootHash = typeof root === 'string' ? decodeBase64Hash(root) : undefined
  if (!Number.isSafeInteger(size) || (size as number) < 0 || rootHash === undefined || typeof note !== 'string') {
    throw corrupt('witness state has bad fields')
  }
  let checkpoint
  try {
    checkpoint = parseCheckpoint(parseNote(note).text)
  } catch (error) {
    throw corrupt('witness state holds a malformed checkpoint', error)
  }
  if (checkpoint.size !== size || !bytesEqual(checkpoint.rootHash, rootHash)) {
    throw corrupt('witness state disagrees with its checkpoint')
  }
  return Object.freeze({ size: size as number, rootHash, note })
}

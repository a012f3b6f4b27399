import { bytesToHex, hexToBytes } from '@annal/tlog'
import { StoreError } from './errors.js'

/** The durable state of a log: its size, root and the checkpoint that signs them. */
export interface Head {
  readonly size: number
  readonly root: Uint8Array
  /** The signed checkpoint note for this size. */
  readonly checkpoint: string
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

export function encodeHead(head: Head): Uint8Array {
  return utf8.encode(JSON.stringify({ size: head.size, root: bytesToHex(head.root), checkpoint: head.checkpoint }))
}

/** @throws StoreError CORRUPTION when the stored head is not one Annal wrote. */
export function decodeHead(bytes: Uint8Array): Head {
  try {
    const value = JSON.parse(utf8Strict.decode(bytes)) as { size: unknown; root: unknown; checkpoint: unknown }
    if (!Number.isSafeInteger(value.size) || typeof value.root !== 'string' || typeof value.checkpoint !== 'string') {
      throw new TypeError('bad head fields')
    }
    const root = hexToBytes(value.root)
    if (root.length !== 32) throw new TypeError('bad root')
    return { size: value.size as number, root, checkpoint: value.checkpoint }
  } catch (error) {
    throw new StoreError('CORRUPTION', 'the stored log head is unreadable', { cause: error })
  }
}

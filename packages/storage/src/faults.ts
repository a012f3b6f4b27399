import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { StorageError, isStorageError } from './errors.js'

/**
 * Whether a rejected write says that the database cannot write (no space, an I/O error, a
 * closed database), rather than that this write lost a compare-and-swap or was malformed.
 */
export function isWriteFault(error: unknown): boolean {
  return error !== undefined && !isStorageError(error, 'SWAP_CONFLICT') && !(error instanceof TypeError) && !(error instanceof RangeError)
}

/**
 * Whether an error comes from the storage beneath Annal rather than from Annal's own checks: an
 * operating system error (`ENOSPC`, `EIO`), one of LevelDB's (`LEVEL_IO_ERROR`), or a
 * StorageError other than a lost compare-and-swap.
 */
export function isStorageFault(error: unknown): boolean {
  if (error instanceof StorageError) return error.code !== 'SWAP_CONFLICT'
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (ERRNO_CODE.test(code) || code.startsWith('LEVEL_'))
}

const ERRNO_CODE = /^E[A-Z0-9]{1,30}$/

/** LevelDB's codes for a read the storage failed, or a handle closed under it (abstract-level's). */
const LEVEL_READ_FAULTS: ReadonlySet<string> = new Set(['LEVEL_IO_ERROR', 'LEVEL_ITERATOR_NOT_OPEN', 'LEVEL_DATABASE_NOT_OPEN'])

/**
 * A read error of the storage beneath a driver (an operating system or LevelDB I/O error) as
 * StorageError STORAGE_UNREADABLE, its error the cause; anything else (a corrupt table, Annal's
 * own errors) as it is.
 */
export function readFault(error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code
  if (error instanceof StorageError || typeof code !== 'string' || !(ERRNO_CODE.test(code) || LEVEL_READ_FAULTS.has(code))) return error
  return new StorageError('STORAGE_UNREADABLE', `the database could not read (${faultCode(error)})`, { cause: error })
}

/**
 * The operating system's message (strerror, as glibc words it) for the errors a database can
 * meet, by code: LevelDB reports them in its message only (`IO error: <file>: No space left on
 * device`), so the code is found from it.
 */
const OS_MESSAGES: Readonly<Record<string, string>> = {
  'No space left on device': 'ENOSPC',
  'Input/output error': 'EIO',
  'Read-only file system': 'EROFS',
  'Too many open files': 'EMFILE',
  'Too many open files in system': 'ENFILE',
  'Disk quota exceeded': 'EDQUOT',
  'Permission denied': 'EACCES',
  'Operation not permitted': 'EPERM',
  'No such file or directory': 'ENOENT',
  'File too large': 'EFBIG',
}

/**
 * A short, bounded name for what a storage error was, for readiness reasons and metric labels:
 * the operating system's code (`ENOSPC`), of the error or of its causes (LevelDB gives it only
 * in its message: `IO error: <file>: No space left on device`); else the error's code
 * (`DATABASE_CLOSED`, `LEVEL_CORRUPTION`; for a STORAGE_UNWRITABLE or STORAGE_UNREADABLE, its
 * cause's), else its name. Never a message: anyone may ask for a readiness reason, and a
 * message names files.
 */
export function faultCode(error: unknown): string {
  return osCode(error, 0) ?? ownCode(error)
}

function osCode(error: unknown, depth: number): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 4) return undefined
  const { code, message, cause } = error as { code?: unknown; message?: unknown; cause?: unknown }
  if (typeof code === 'string' && ERRNO_CODE.test(code)) return code
  const fromMessage = typeof message === 'string' ? levelOsCode(message) : undefined
  return fromMessage ?? osCode(cause, depth + 1)
}

function ownCode(error: unknown): string {
  if ((isStorageError(error, 'STORAGE_UNWRITABLE') || isStorageError(error, 'STORAGE_UNREADABLE')) && error.cause !== undefined) {
    return ownCode(error.cause)
  }
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,39}$/.test(code)) return code
  return typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'unknown'
}

/** The code of the OS message that ends LevelDB's `IO error: <file>: <message>`, if it is one named above. */
function levelOsCode(message: string): string | undefined {
  if (!message.startsWith('IO error: ')) return undefined
  const last = message.slice(message.lastIndexOf(': ') + 2)
  return Object.hasOwn(OS_MESSAGES, last) ? OS_MESSAGES[last] : undefined
}

/**
 * What a storage error says, for the operator (a log line, not an HTTP answer: it may name
 * files): its message, with its fault code after it when the message does not hold it.
 */
export function describeFault(error: unknown): string {
  let inner = error
  while ((isStorageError(inner, 'STORAGE_UNWRITABLE') || isStorageError(inner, 'STORAGE_UNREADABLE')) && inner.cause !== undefined) {
    inner = inner.cause
  }
  let message = inner instanceof Error ? inner.message : String(inner)
  // classic-level's "Database failed to open" says why in its cause.
  const cause = (inner as { cause?: unknown }).cause
  if (cause instanceof Error) message = `${message}: ${cause.message}`
  const code = faultCode(inner)
  return message.includes(code) ? message : `${message} (${code})`
}

/**
 * Writes `bytes` bytes to a scratch file in `directory`, syncs and removes it: whether the
 * filesystem there can take that much now. A database's own write cannot tell, after a failed
 * one: LevelDB keeps failing the handle.
 * @throws what the filesystem answers (ENOSPC, EIO, EROFS, EMFILE, ...).
 */
export async function probeDirectory(directory: string, bytes: number): Promise<void> {
  const path = join(directory, `.annal-probe-${process.pid}`)
  const chunk = new Uint8Array(Math.min(bytes, PROBE_CHUNK_BYTES))
  try {
    const file = await open(path, 'w', 0o600)
    try {
      for (let written = 0; written < bytes; written += chunk.length) {
        await file.write(chunk, 0, Math.min(chunk.length, bytes - written))
      }
      await file.sync()
    } finally {
      await file.close()
    }
  } finally {
    await unlink(path).catch(() => undefined)
  }
}

const PROBE_CHUNK_BYTES = 2 ** 20

import { open, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { ClientError } from '../errors.js'
import { syncDirectory } from './atomic.js'

/** What a lock file says: its holder, and the file's inode (which tells one lock file from the next). */
interface Holder {
  readonly text: string
  readonly pid: number | undefined
  readonly host: string | undefined
  readonly ino: number
}

const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

/**
 * An exclusive lock file, created with O_EXCL and holding `<pid> <hostname>`, kept by one
 * process until it releases it. A lock whose process is gone (same host, pid not alive) is
 * taken over. Taking over needs a claim file named after that lock file's inode, also made
 * with O_EXCL: of several processes that find one dead lock, only the claimant removes it,
 * and it removes only that file, so a lock made since by a live process is never removed.
 */
export class LockFile {
  readonly path: string
  readonly #text: string

  private constructor(path: string, text: string) {
    this.path = path
    this.#text = text
  }

  /** Takes the lock at `path`. Throws ClientError STATE_LOCKED (held), STATE_INVALID (cannot be made). */
  static async acquire(path: string): Promise<LockFile> {
    const text = `${process.pid} ${hostname()}\n`
    // A second round only after a dead holder's lock was removed, or a holder released it.
    for (let round = 0; round < 2; round++) {
      if (await create(path, text)) return new LockFile(path, text)
      const holder = await readHolder(path)
      if (holder !== undefined) {
        if (holder.pid === undefined || holder.host !== hostname() || alive(holder.pid)) throw held(path, holder)
        await takeOver(path, holder)
      }
    }
    throw new ClientError('STATE_LOCKED', `${path} was taken by another process as this one took it: is another monitor starting?`)
  }

  /** Removes the lock file, if it is still this one's. */
  async release(): Promise<void> {
    const holder = await readHolder(this.path)
    if (holder?.text === this.#text) await rm(this.path, { force: true })
  }
}

/** Creates the lock file holding `text`; false if it exists. */
async function create(path: string, text: string): Promise<boolean> {
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false
    throw new ClientError('STATE_INVALID',
      `cannot create the lock file ${path} (${errnoOf(error) ?? 'error'}): check that its directory exists and is writable`, { cause: error })
  }
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await syncDirectory(dirname(path))
  return true
}

/** The lock file's holder and inode, read through one descriptor; undefined when there is none. */
async function readHolder(path: string): Promise<Holder | undefined> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw error
  }
  try {
    const { ino } = await handle.stat()
    const text = await handle.readFile('utf8')
    const match = /^([1-9][0-9]{0,9}) (\S+)\n$/.exec(text)
    return { text, ino, pid: match === null ? undefined : Number(match[1]), host: match?.[2] }
  } finally {
    await handle.close()
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, as another user's.
    return errnoOf(error) !== 'ESRCH'
  }
}

function held(path: string, holder: Holder): ClientError {
  const who = holder.pid === undefined ? 'an unknown process' : `process ${holder.pid} on ${holder.host}`
  return new ClientError('STATE_LOCKED', `${path} is held by ${who}: stop the monitor using this state file, `
    + 'or remove the lock file if no monitor is running')
}

/** Removes a dead holder's lock file, under a claim to that very file. Throws ClientError STATE_LOCKED. */
async function takeOver(path: string, dead: Holder): Promise<void> {
  const claim = `${path}.takeover-${dead.ino}`
  if (!(await create(claim, `${process.pid} ${hostname()}\n`))) {
    throw new ClientError('STATE_LOCKED', `another process is taking over ${path} from the dead process ${dead.pid}; `
      + `if none is, remove ${claim} and ${path}`)
  }
  try {
    const now = await readHolder(path)
    if (now !== undefined && now.ino === dead.ino && now.text === dead.text) await rm(path, { force: true })
  } finally {
    await rm(claim, { force: true })
  }
}

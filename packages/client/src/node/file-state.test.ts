import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { Child } from '../testing/child.js'
import { expectRejection } from '../testing/expect.js'
import { FileStateStore } from './file-state.js'

let dir: string
let path: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'annal-state-'))
  path = join(dir, 'monitor.state')
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

it('moves the state only from the state it was given, and keeps it across opens', async () => {
  const store = await FileStateStore.open(path)
  expect(await store.load()).toBeUndefined()
  const first = { checkpoint: 'a\n', next: 1 }
  await store.compareAndSwap(undefined, first)
  await expectRejection(store.compareAndSwap(undefined, { checkpoint: 'b', next: 2 }), 'STATE_CONFLICT')
  await expectRejection(store.compareAndSwap({ checkpoint: 'a\n', next: 0 }, { checkpoint: 'b', next: 2 }), 'STATE_CONFLICT')
  await store.compareAndSwap({ ...first }, { checkpoint: 'b\n', next: 2 })
  await store.close()
  const reopened = await FileStateStore.open(path)
  expect(await reopened.load()).toEqual({ checkpoint: 'b\n', next: 2 })
  await reopened.close()
})

it('writes the state file with mode 0600 and leaves no temp file or lock behind', async () => {
  const store = await FileStateStore.open(path)
  expect((await stat(`${path}.lock`)).mode & 0o777).toBe(0o600)
  await store.compareAndSwap(undefined, { checkpoint: 'a', next: 1 })
  expect((await stat(path)).mode & 0o777).toBe(0o600)
  await store.close()
  expect(await readdir(dir)).toEqual(['monitor.state'])
  expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ checkpoint: 'a', next: 1 })
})

it('refuses a state file that does not hold a state, and does not start over', async () => {
  for (const text of ['', 'not json', '[]', '{"checkpoint":"a"}', '{"checkpoint":"a","next":-1}',
    '{"checkpoint":"a","next":1.5}', '{"checkpoint":1,"next":1}', '{"checkpoint":"a","next":1,"more":0}']) {
    await writeFile(path, text)
    const error = await expectRejection(FileStateStore.open(path), 'STATE_INVALID')
    expect(error.message).toContain(`${path} is not a monitor state file`)
    expect(error.message).toContain('restore it')
    expect(await readFile(path, 'utf8')).toBe(text)
    // The refused open left the lock free.
    expect(await readdir(dir)).toEqual(['monitor.state'])
  }
  await rm(path)
  await mkdir(path)
  expect((await expectRejection(FileStateStore.open(path), 'STATE_INVALID')).message).toContain('cannot be read: EISDIR')
})

it('refuses a state file in a directory that does not exist', async () => {
  const error = await expectRejection(FileStateStore.open(join(dir, 'missing', 'monitor.state')), 'STATE_INVALID')
  expect(error.message).toContain('check that its directory exists')
})

it('refuses a second store on the same file while the first is open', async () => {
  const store = await FileStateStore.open(path)
  const error = await expectRejection(FileStateStore.open(path), 'STATE_LOCKED')
  expect(error.message).toContain(`is held by process ${process.pid} on ${hostname()}`)
  await store.close()
  await (await FileStateStore.open(path)).close()
})

it('takes over the lock of a process that died', async () => {
  await writeFile(`${path}.lock`, `${await deadPid()} ${hostname()}\n`)
  const store = await FileStateStore.open(path)
  await store.compareAndSwap(undefined, { checkpoint: 'a', next: 1 })
  await store.close()
  expect(await readdir(dir)).toEqual(['monitor.state'])
})

it('leaves a dead process\'s lock to a process that claimed it, and says what to remove', async () => {
  await writeFile(`${path}.lock`, `${await deadPid()} ${hostname()}\n`)
  const claim = `${path}.lock.takeover-${(await stat(`${path}.lock`)).ino}`
  await writeFile(claim, `${process.pid} ${hostname()}\n`)
  const error = await expectRejection(FileStateStore.open(path), 'STATE_LOCKED')
  expect(error.message).toContain(`if none is, remove ${claim} and ${path}.lock`)
  await rm(claim)
  await (await FileStateStore.open(path)).close()
})

it('lets one of several stores opened at once take over a dead process\'s lock', async () => {
  await writeFile(`${path}.lock`, `${await deadPid()} ${hostname()}\n`)
  const opened = await Promise.allSettled(Array.from({ length: 4 }, () => FileStateStore.open(path)))
  const stores = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
  expect(stores).toHaveLength(1)
  for (const result of opened) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'STATE_LOCKED' })
  await stores[0]!.close()
  expect(await readdir(dir)).toEqual([])
})

it('lets one of two racing processes open the file and move the state', async () => {
  await writeFile(path, '{"checkpoint":"a","next":0}\n')
  const children = [new Child('./state-child.ts', [path]), new Child('./state-child.ts', [path])]
  try {
    const first = await Promise.all(children.map((child) => child.line(() => true)))
    expect(first.sort()).toEqual(['opened', 'refused STATE_LOCKED'])
    const holder = children.find((child) => child.lines[0] === 'opened')!
    holder.send('cas')
    expect(await holder.line((line) => line.startsWith('moved') || line.startsWith('refused'))).toBe('moved 1')
  } finally {
    await Promise.all(children.map((child) => child.end()))
  }
  const store = await FileStateStore.open(path)
  expect((await store.load())?.next).toBe(1)
  await store.close()
})

it('lets one of several processes take over a dead process\'s lock', async () => {
  await writeFile(`${path}.lock`, `${await deadPid()} ${hostname()}\n`)
  const children = Array.from({ length: 4 }, () => new Child('./state-child.ts', [path]))
  try {
    const first = await Promise.all(children.map((child) => child.line(() => true)))
    expect(first.filter((line) => line === 'opened')).toHaveLength(1)
    expect(first.filter((line) => line === 'refused STATE_LOCKED')).toHaveLength(3)
  } finally {
    await Promise.all(children.map((child) => child.end()))
  }
  expect(await readdir(dir)).toEqual([])
})

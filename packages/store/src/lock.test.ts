// One ledger directory, one process: LevelDB's lock keeps a second process out until the first
// closes the ledger or dies. The other processes run testing/crash-child.ts.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Ledger } from './ledger.js'

const TIMEOUT_MS = 20_000
const STORE_DIR = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./testing/crash-child.ts', import.meta.url))
const code = (code: string) => expect.objectContaining({ name: 'StorageError', code })

const live = new Set<ChildProcess>()

function start(mode: 'open-only' | 'hold', directory: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD, mode, directory],
    { cwd: STORE_DIR, stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  child.once('close', () => live.delete(child))
  return child
}

/** The next line the child prints, parsed; fails on timeout or if the child ends first. */
function nextLine(child: ChildProcess): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => done(new Error(`no line from the child in ${TIMEOUT_MS} ms; stderr:\n${stderr}`)), TIMEOUT_MS)
    const onStdout = (chunk: Buffer) => {
      stdout += chunk.toString('utf8')
      const end = stdout.indexOf('\n')
      if (end >= 0) done(undefined, JSON.parse(stdout.slice(0, end)) as Record<string, unknown>)
    }
    const onStderr = (chunk: Buffer) => { stderr += chunk.toString('utf8') }
    const onClose = () => done(new Error(`the child ended without a line; stderr:\n${stderr}`))
    function done(error: Error | undefined, value?: Record<string, unknown>): void {
      clearTimeout(timer)
      child.stdout!.off('data', onStdout)
      child.stderr!.off('data', onStderr)
      child.off('close', onClose)
      if (error === undefined) resolve(value!)
      else reject(error)
    }
    child.stdout!.on('data', onStdout)
    child.stderr!.on('data', onStderr)
    child.once('close', onClose)
  })
}

function ended(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { exitCode: code, signalCode: signal } = child
  if (code !== null || signal !== null) return Promise.resolve({ code, signal })
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
}

/** Runs an `open-only` child: what it printed and how it ended. */
async function openOnce(directory: string): Promise<Record<string, unknown>> {
  const child = start('open-only', directory)
  const [line, exit] = await Promise.all([nextLine(child), ended(child)])
  expect(exit).toEqual({ code: 0, signal: null })
  return line
}

describe('the ledger lock, across processes', () => {
  let directory: string

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-lock-'))
  })

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true })
  })

  afterAll(async () => {
    for (const child of live) child.kill('SIGKILL')
    await Promise.all([...live].map(ended))
  })

  it('keeps a second process out while this one holds the ledger, then lets it in', async () => {
    const ledger = await Ledger.open(directory, { originPrefix: 'lock.test' })
    await ledger.createLog('audit')
    try {
      expect(await openOnce(directory)).toEqual({ error: 'DATABASE_LOCKED' })
    } finally {
      await ledger.close()
    }
    expect(await openOnce(directory)).toEqual({ opened: true, logs: ['audit'] })
  }, 60_000)

  it('keeps this process and a third out while another holds it, until it closes', async () => {
    const holder = start('hold', directory)
    expect(await nextLine(holder)).toEqual({ ready: true })
    await expect(Ledger.open(directory)).rejects.toThrow(code('DATABASE_LOCKED'))
    expect(await openOnce(directory)).toEqual({ error: 'DATABASE_LOCKED' })
    holder.stdin!.write('close\n')
    expect(await nextLine(holder)).toEqual({ closed: true })
    expect(await ended(holder)).toEqual({ code: 0, signal: null })
    const ledger = await Ledger.open(directory)
    await ledger.close()
  }, 60_000)

  it('lets the next process in once the holder is killed', async () => {
    const holder = start('hold', directory)
    expect(await nextLine(holder)).toEqual({ ready: true })
    await expect(Ledger.open(directory)).rejects.toThrow(code('DATABASE_LOCKED'))
    holder.kill('SIGKILL')
    expect(await ended(holder)).toEqual({ code: null, signal: 'SIGKILL' })
    expect(await openOnce(directory)).toEqual({ opened: true, logs: [] })
  }, 60_000)
})

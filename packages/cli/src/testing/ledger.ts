import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ledger } from '@annal/store'
import { LEDGER_DIR } from '../context.js'

/** A directory holding a `.annal` ledger with log `main`, made with the store as `annal init` would. */
export interface TestLedger {
  /** The directory that holds `.annal`: a command run here finds the ledger. */
  readonly cwd: string
  /** The `.annal` directory. */
  readonly data: string
  readonly verifierKey: string
  /** The leaf bytes of each entry appended, in index order. */
  readonly entries: Uint8Array[]
  /** Appends `events` (one call, one checkpoint) to log main; the ledger is closed again after. */
  append(events: readonly string[]): Promise<void>
  remove(): Promise<void>
}

/** A ledger in a temp directory whose log `main` holds `events`, appended one call each (a checkpoint each). */
export async function testLedger(events: readonly string[], originPrefix = 'annal.test'): Promise<TestLedger> {
  const cwd = await mkdtemp(join(tmpdir(), 'annal-cli-'))
  const data = join(cwd, LEDGER_DIR)
  const created = await Ledger.open(data, { originPrefix })
  const { verifierKey } = await created.createLog('main')
  await created.close()
  const entries: Uint8Array[] = []
  const append = async (more: readonly string[]): Promise<void> => {
    const ledger = await Ledger.open(data, { originPrefix })
    try {
      for (const event of more) {
        const bytes = new TextEncoder().encode(event)
        await ledger.log('main').append([bytes])
        entries.push(bytes)
      }
    } finally {
      await ledger.close()
    }
  }
  await append(events)
  return { cwd, data, verifierKey, entries, append, remove: () => rm(cwd, { recursive: true, force: true }) }
}

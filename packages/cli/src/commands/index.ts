import type { Program } from '../program.js'
import { registerAuth } from './auth.js'
import { registerEntries } from './entries.js'
import { registerFsck } from './fsck.js'
import { registerKeys } from './keys.js'
import { registerLedger } from './ledger.js'
import { registerMigrate } from './migrate.js'
import { registerMonitor } from './monitor.js'
import { registerProofs } from './proofs.js'
import { registerReindex } from './reindex.js'
import { registerScopes } from './scopes.js'
import { registerServers } from './servers.js'

/** Every `annal` command, in the order `annal help` lists them. */
export function registerCommands(program: Program): void {
  registerLedger(program)
  registerEntries(program)
  registerProofs(program)
  registerFsck(program)
  registerReindex(program)
  registerMigrate(program)
  registerMonitor(program)
  registerKeys(program)
  registerAuth(program)
  registerScopes(program)
  registerServers(program)
}

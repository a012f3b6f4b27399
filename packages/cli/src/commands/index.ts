import type { Program } from '../program.js'
import { registerServers } from './servers.js'
import { registerFsck } from './fsck.js'
import { registerMonitor } from './monitor.js'
import { registerProofs } from './proofs.js'

/** Every `annal` command, in the order `annal help` lists them. */
export function registerCommands(program: Program): void {
  registerServers(program)
  registerProofs(program)
  registerFsck(program)
  registerMonitor(program)
}

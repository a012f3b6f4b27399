import type { Program } from '../program.js'
import { registerAuth } from './auth.js'
import { registerServers } from './servers.js'

/** Every `annal` command, in the order `annal help` lists them. */
export function registerCommands(program: Program): void {
  registerServers(program)
  registerAuth(program)
}

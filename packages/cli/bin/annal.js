#!/usr/bin/env node
// The `annal` bin. npm links bins at install time, before the build makes dist/, so the link
// points at this committed file, which loads the built command.
import { existsSync } from 'node:fs'

if (!existsSync(new URL('../dist/main.js', import.meta.url))) {
  console.error("annal: the workspace is not built yet; run 'npm run build' in the repository root first.")
  process.exit(1)
}
const { main } = await import('../dist/main.js')
process.exitCode = await main(process.argv.slice(2))

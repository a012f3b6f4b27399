import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'

/** The built `annal` bin, as `npx annal` runs it after `npm ci`. */
export const annalBin = createRequire(import.meta.url).resolve('@annal/cli/package.json').replace(/package\.json$/, 'dist/main.js')

/**
 * Starts `annal ...` as a real process. `matched` resolves with the first match of `ready` in
 * its standard output (rejects after 30 s or if the process exits first).
 */
export function startAnnal(args: readonly string[], ready: RegExp) {
  const child = spawn(process.execPath, [annalBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const matched = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ready} in: ${stdout}${stderr}`)), 30_000)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = ready.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    })
    child.stderr.on('data', (chunk) => (stderr += chunk))
    void exited.then(() => reject(new Error(`exited early: ${stderr}`)))
  })
  matched.catch(() => undefined)
  return { child, matched, exited, output: () => ({ stdout, stderr }) }
}

import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const cliPackage = createRequire(import.meta.url).resolve('@annal/cli/package.json')

/** The `annal` bin that npm links (package.json's `bin`), as `npx annal` runs it. */
export const annalBin = join(dirname(cliPackage), (JSON.parse(readFileSync(cliPackage, 'utf8')) as { bin: { annal: string } }).bin.annal)

const started = new Map<ChildProcess, Promise<unknown>>()

/** Kills every process startAnnal started that still runs, so that a failed test leaves none behind. */
export async function killStarted(): Promise<void> {
  const running = [...started]
  for (const [child] of running) child.kill('SIGKILL')
  await Promise.all(running.map(([, exited]) => exited))
}

/**
 * Starts `annal ...` as a real process, with `env` added to this process's environment, in `cwd`
 * (default: this process's).
 * `matched` resolves with the first match of `ready` in its standard output (rejects after 30 s
 * or if the process exits first).
 */
export function startAnnal(args: readonly string[], ready: RegExp, env: Record<string, string> = {}, cwd?: string) {
  const child = spawn(process.execPath, [annalBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, cwd })
  let stdout = ''
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  started.set(child, exited)
  void exited.then(() => started.delete(child))
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

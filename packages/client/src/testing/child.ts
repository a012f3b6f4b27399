import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url))

/** A TypeScript script of src/testing/ run in its own Node process, and the lines it prints. */
export class Child {
  readonly lines: string[] = []
  /** Resolves once the process has exited and its output is all read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly #process: ChildProcess
  #partial = ''
  #stderr = ''
  #wake: () => void = () => undefined
  #closed = false

  constructor(script: string, args: readonly string[]) {
    const file = fileURLToPath(new URL(script, import.meta.url))
    this.#process = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', file, ...args],
      { cwd: PACKAGE_DIR, stdio: ['pipe', 'pipe', 'pipe'] })
    this.#process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n')
      this.#partial = parts.pop()!
      this.lines.push(...parts)
      this.#wake()
    })
    this.#process.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.#stderr += chunk })
    this.exited = new Promise((resolve, reject) => {
      this.#process.once('error', reject)
      // 'close' comes after stdout has ended, so every line is in.
      this.#process.once('close', (code, signal) => {
        this.#closed = true
        this.#wake()
        resolve({ code, signal })
      })
    })
  }

  get pid(): number {
    return this.#process.pid!
  }

  /** The first line that `match` accepts, once printed; rejects if the process ends first. */
  async line(match: (line: string) => boolean): Promise<string> {
    for (;;) {
      const found = this.lines.find(match)
      if (found !== undefined) return found
      if (this.#closed) {
        throw new Error(`the child ended without the line (stderr: ${this.#stderr.slice(-2000)})`)
      }
      await new Promise<void>((resolve) => { this.#wake = resolve })
    }
  }

  send(line: string): void {
    this.#process.stdin!.write(`${line}\n`)
  }

  /** Closes its stdin, and waits for it to exit. */
  async end(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.#process.stdin!.end()
    return this.exited
  }

  kill(signal: NodeJS.Signals): void {
    this.#process.kill(signal)
  }

  get stderr(): string {
    return this.#stderr
  }
}

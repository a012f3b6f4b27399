/** What a command reads and writes besides its arguments: the process's, or a test's. */
export interface Io {
  /** A line of output, on standard output. */
  readonly out: (line: string) => void
  /** A line of diagnostics, on standard error. */
  readonly err: (line: string) => void
  /** Bytes to standard output as they are (a leaf, a proof file). */
  readonly write: (bytes: Uint8Array | string) => void
  /** Standard input, whole, for `-` arguments. */
  readonly stdin: () => Promise<Uint8Array>
  /** Standard output is a terminal: progress bars and colours only then. */
  readonly isTTY: boolean
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
}

/** The running process's streams, directory and environment. */
export function processIo(): Io {
  // A reader that stops early (`annal log | head`) closes the pipe: stop quietly, as Git does.
  if (process.stdout.listenerCount('error') === 0) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error
      process.exit(0)
    })
  }
  return {
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
    write: (bytes) => void process.stdout.write(bytes),
    stdin: async () => {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
      return new Uint8Array(Buffer.concat(chunks))
    },
    isTTY: process.stdout.isTTY === true,
    cwd: process.cwd(),
    env: process.env,
  }
}

/**
 * An Io that keeps what a command writes, for tests and for `main` called in-process: `stdout`
 * holds lines and raw writes in order, `stderr` the diagnostics.
 */
export function memoryIo(options: Partial<Io> & { readonly input?: Uint8Array | string } = {}): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (line: string) => { io.stdout += `${line}\n` },
    err: (line: string) => { io.stderr += `${line}\n` },
    write: (bytes: Uint8Array | string) => { io.stdout += typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes) },
    stdin: async () => typeof options.input === 'string' ? new TextEncoder().encode(options.input) : options.input ?? new Uint8Array(),
    isTTY: false,
    cwd: process.cwd(),
    env: {},
    ...options,
  }
  return io
}

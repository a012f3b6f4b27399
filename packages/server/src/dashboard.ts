// The dashboard's static files, served at `/` from memory with a strict Content-Security-Policy,
// and, for `annal serve --dev`, the dev tokens handed to a page that holds the start's sign-in key.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile, readdir } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, Hono } from 'hono'
import { type AppEnv, allowPublic } from './context.js'
import { ApiError } from './errors.js'

export interface DashboardOptions {
  /**
   * A directory of static files (flat): `index.html`, served at `/`, and the files it loads,
   * served at `/<name>`. Names with a content hash (`app-3F2A9C1B.js`) are cached for a year,
   * the others revalidated. Read once, when the app is made.
   */
  readonly directory: string
  /** For a local trial only: the tokens a page may fetch with the start's sign-in key. */
  readonly devSignIn?: DevSignIn
}

/** Dev tokens, handed to a page on this machine that holds `key` (see devTokensRoute). */
export interface DevSignIn {
  /** A secret made at start and printed in the sign-in link only; at least 32 characters. */
  readonly key: string
  readonly tokens: readonly DevToken[]
}

export interface DevToken {
  readonly role: string
  readonly scope: string
  readonly token: string
}

/**
 * The policy of every dashboard response: scripts, styles and fetches from this origin only,
 * nothing inline, no framing, and DOM sinks closed to strings (Trusted Types), so that text from
 * the log can never run as code.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'",
].join('; ')

const SECURITY_HEADERS = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
}

/** The dashboard is a handful of small files held in memory: more is a wrong directory. */
const MAX_FILES = 64
const MAX_BYTES = 16 * 2 ** 20
/** esbuild's `[name]-[hash]`: such a file never changes under its name. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z]+$/
const IMMUTABLE = 'public, max-age=31536000, immutable'
const MIN_KEY_LENGTH = 32

interface StaticFile {
  readonly bytes: Uint8Array
  /** Gzipped, when that is smaller. */
  readonly gzipped: Uint8Array | undefined
  readonly type: string
  readonly etag: string
  readonly cache: string
}

/**
 * Reads the dashboard's files into memory.
 * @throws RangeError without an index.html, for a file of an unknown type or a subdirectory,
 *   or past MAX_FILES or MAX_BYTES; TypeError for a dev sign-in key shorter than 32 characters.
 */
export async function loadDashboard(options: DashboardOptions): Promise<Map<string, StaticFile>> {
  if (options.devSignIn !== undefined && options.devSignIn.key.length < MIN_KEY_LENGTH) {
    throw new TypeError(`dashboard.devSignIn.key must be at least ${MIN_KEY_LENGTH} characters`)
  }
  const files = new Map<string, StaticFile>()
  let total = 0
  const entries = await readdir(options.directory, { withFileTypes: true })
  if (entries.length > MAX_FILES) throw new RangeError(`the dashboard directory holds more than ${MAX_FILES} files`)
  for (const entry of entries) {
    const type = CONTENT_TYPES[extname(entry.name)]
    if (!entry.isFile() || type === undefined) throw new RangeError(`the dashboard directory holds ${entry.name}, which it cannot serve`)
    const bytes = new Uint8Array(await readFile(join(options.directory, entry.name)))
    total += bytes.length
    if (total > MAX_BYTES) throw new RangeError(`the dashboard directory holds more than ${MAX_BYTES} bytes`)
    const gzipped = gzipSync(bytes, { level: 9 })
    files.set(entry.name, {
      bytes, type, gzipped: gzipped.length < bytes.length ? new Uint8Array(gzipped) : undefined,
      etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"`,
      cache: HASHED_NAME.test(entry.name) ? IMMUTABLE : 'no-cache',
    })
  }
  if (!files.has('index.html')) throw new RangeError(`the dashboard directory ${options.directory} has no index.html`)
  return files
}

/** `GET /` and `GET /<file>` from the loaded files; with `devSignIn`, `GET /dev-tokens`. */
export function dashboardRoutes(app: Hono<AppEnv>, files: ReadonlyMap<string, StaticFile>, devSignIn: DevSignIn | undefined): void {
  app.get('/', (c) => {
    allowPublic(c)
    return serveFile(c, files.get('index.html')!)
  })
  if (devSignIn !== undefined) devTokensRoute(app, devSignIn)
  app.get('/:file{[A-Za-z0-9._-]+}', (c, next) => {
    const file = c.req.param('file') === 'index.html' ? undefined : files.get(c.req.param('file'))
    if (file === undefined) return next()
    allowPublic(c)
    return serveFile(c, file)
  })
}

function serveFile(c: Context<AppEnv>, file: StaticFile): Response {
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Cache-Control': file.cache, ETag: file.etag, Vary: 'Accept-Encoding' }
  if (c.req.header('if-none-match')?.split(/\s*,\s*/).includes(file.etag)) return c.body(null, 304, headers)
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '')
  return c.body((gzip ? file.gzipped! : file.bytes) as Uint8Array<ArrayBuffer>, 200, {
    ...headers, 'Content-Type': file.type, ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
  })
}

/**
 * The dev tokens, for the sign-in page of a local trial. The key travels in the fragment of the
 * link the start banner prints (never sent in a URL, so never logged) and comes back in the
 * `Annal-Dev-Key` header. Loopback is not a boundary between the users of one machine, so the
 * key is what limits the tokens to whoever reads the banner, which shows them anyway; the
 * loopback peer and Host checks keep the route shut to other machines and to DNS rebinding (a
 * page of another site whose name resolves to 127.0.0.1 sends its own Host). Anything else is
 * answered as an unknown route.
 */
function devTokensRoute(app: Hono<AppEnv>, devSignIn: DevSignIn): void {
  const expected = createHash('sha256').update(devSignIn.key).digest()
  app.get('/dev-tokens', (c) => {
    allowPublic(c)
    const key = c.req.header('annal-dev-key')
    const given = createHash('sha256').update(key ?? '').digest()
    if (key === undefined || !timingSafeEqual(given, expected) || !loopbackPeer(c) || !loopbackHost(c.req.header('host'))) {
      throw new ApiError('ROUTE_NOT_FOUND', 'no such route')
    }
    c.header('Cache-Control', 'no-store')
    return c.json({ tokens: devSignIn.tokens })
  })
}

function loopbackPeer(c: Context<AppEnv>): boolean {
  try {
    return isLoopbackAddress(getConnInfo(c).remote.address ?? '')
  } catch {
    return true // app.request() in tests has no socket
  }
}

function isLoopbackAddress(address: string): boolean {
  return /^(?:127(?:\.[0-9]{1,3}){3}|::1|::ffff:127(?:\.[0-9]{1,3}){3})$/.test(address)
}

/** A Host header naming this machine's loopback (with any port): `127.0.0.1:8080`, `localhost`, `[::1]:8080`. */
export function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false
  const name = host.toLowerCase().replace(/:[0-9]+$/, '')
  return name === 'localhost' || name === '[::1]' || /^127(?:\.[0-9]{1,3}){3}$/.test(name)
}

import { randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { Ledger } from '@annal/store'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { memoryIo } from './io.js'
import { main } from './main.js'
import { serveCommand } from './serve.js'

let tmp: string
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'annal-cli-serve-'))
})
afterEach(async () => rm(tmp, { recursive: true, force: true }))

/** Runs `annal ...` expecting it to stop before serving: its exit code and the lines on stderr. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<{ code: number; lines: string[] }> {
  const io = memoryIo({ cwd: tmp, env })
  const code = await main(args, io)
  expect(io.stdout).not.toContain('serving')
  return { code, lines: io.stderr.trim().split('\n') }
}

async function file(name: string, value: unknown): Promise<string> {
  await writeFile(join(tmp, name), JSON.stringify(value))
  return join(tmp, name)
}

/**
 * Starts `annal serve` in-process: resolves with its URL, and `stop` with all it printed once it
 * has exited 0.
 */
async function started(args: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  let stop!: () => void
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  let ready!: (url: string) => void
  const url = new Promise<string>((resolve) => { ready = resolve })
  const exited = serveCommand(args, (line) => {
    out.push(line)
    const match = /^annal serving .* on (\S+)$/.exec(line)
    if (match !== null) ready(match[1]!)
  }, stopped, { err: (line) => err.push(line), env })
  return {
    url: await Promise.race([url, exited.then(() => { throw new Error(`exited before serving: ${err.join('\n')}`) })]),
    stop: async () => {
      stop()
      expect(await exited).toBe(0)
      return { out, err }
    },
  }
}

/** A public key set and a function signing RFC 9068 access tokens with its private key. */
async function issuer(iss: string, aud: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwks = await file('jwks.json', { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] })
  const token = (scope: string) => new SignJWT({ scope, client_id: 'test' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(iss).setAudience(aud).setSubject('test').setIssuedAt().setExpirationTime('5m').setJti(randomUUID())
    .sign(privateKey)
  return { jwks, token }
}

async function origins(url: string): Promise<Record<string, string>> {
  const { logs } = await (await fetch(`${url}/v1/logs`)).json() as { logs: { name: string; origin: string }[] }
  return Object.fromEntries(logs.map((log) => [log.name, log.origin]))
}

describe('annal serve origins', () => {
  it('--dev: names new logs after the directory holding the ledger, so two ledgers on one host differ', async () => {
    for (const name of ['alpha', 'beta']) {
      const server = await started(['--dev', '--data', join(tmp, name, '.annal'), '--port', '0'])
      expect((await origins(server.url)).audit).toBe(`annal.local/${name}/audit`)
      expect((await server.stop()).out).toContain(`new logs' origins: annal.local/${name}/<log name>`)
    }
  })

  it('takes --origin-prefix, ANNAL_ORIGIN_PREFIX or originPrefix in the config file', async () => {
    const config = await file('annal.json', { originPrefix: 'from.file/x' })
    for (const [args, env, origin] of [
      [['--origin-prefix', 'from.flag/x'], { ANNAL_ORIGIN_PREFIX: 'from.env/x' }, 'from.flag/x/audit'],
      [['--config', config], { ANNAL_ORIGIN_PREFIX: 'from.env/x' }, 'from.env/x/audit'],
      [['--config', config], {}, 'from.file/x/audit'],
    ] as const) {
      const data = join(tmp, randomUUID())
      const server = await started(['--dev', '--data', data, '--port', '0', ...args], env)
      expect((await origins(server.url)).audit).toBe(origin)
      await server.stop()
    }
  })

  it('in production, defaults to the audience URL\'s host and path', async () => {
    const audience = 'https://annal.example.com/tenant-a/'
    const { jwks, token } = await issuer('https://issuer.example', audience)
    const server = await started(['--data', join(tmp, 'ledger'), '--port', '0', '--issuer', 'https://issuer.example',
      '--audience', audience, '--jwks-file', jwks])
    const created = await fetch(`${server.url}/v1/logs`, {
      method: 'POST', body: '{"name":"pay"}', headers: { authorization: `Bearer ${await token('log:admin')}`, 'content-type': 'application/json' },
    })
    expect(await created.json()).toMatchObject({ name: 'pay', origin: 'annal.example.com/tenant-a/pay' })
    expect((await server.stop()).out).toContain('new logs\' origins: annal.example.com/tenant-a/<log name>')
  })

  it('refuses a prefix that makes invalid origins, naming the setting, exit code 2', async () => {
    const jwks = (await issuer('https://i.example', 'https://a.example/')).jwks
    const production = ['serve', '--data', join(tmp, 'ledger'), '--issuer', 'https://i.example', '--jwks-file', jwks]
    expect(await refused([...production, '--audience', 'https://a.example/', '--origin-prefix', 'https://annal.example.com'])).toEqual({ code: 2, lines: [
      'annal: --origin-prefix (ANNAL_ORIGIN_PREFIX, originPrefix in the config file) is invalid: an origin prefix has no scheme '
        + '(annal.example.com/tenant, not https://annal.example.com/tenant).',
    ] })
    expect(await refused([...production, '--audience', 'https://a.example/a+b'])).toEqual({ code: 2, lines: [
      'annal: the origin prefix made from the audience https://a.example/a+b is invalid: an origin prefix has no spaces, '
        + 'control characters or +; give --origin-prefix.',
    ] })
  })
})

describe('annal serve refusals', () => {
  it('says that the audience must be an http(s) URL, for serve and auth check', async () => {
    const jwks = (await issuer('https://i.example', 'https://a.example/')).jwks
    const sentence = 'annal: --audience (ANNAL_AUDIENCE, audience in the config file) must be this server\'s resource identifier, '
      + 'an http(s) URL such as https://annal.example.com/ (RFC 9728, RFC 8707), not "urn:annal:test".'
    const settings = ['--issuer', 'https://i.example', '--audience', 'urn:annal:test', '--jwks-file', jwks]
    expect(await refused(['serve', '--data', join(tmp, 'ledger'), ...settings])).toEqual({ code: 2, lines: [sentence] })
    expect(await refused(['auth', 'check', ...settings, 'token'])).toEqual({ code: 2, lines: [sentence] })
  })

  it('refuses production settings with --dev, from flags, the environment or the config file', async () => {
    const config = await file('annal.json', { jwksUrl: 'https://i.example/keys' })
    expect(await refused(['serve', '--dev', '--issuer', 'https://i.example', '--token-profile', 'okta', '--config', config],
      { ANNAL_AUDIENCE: 'https://a.example/' })).toEqual({ code: 2, lines: [
      'annal: --dev makes its own token issuer and takes no production settings: drop --issuer, ANNAL_AUDIENCE, '
        + 'jwksUrl in the config file and --token-profile, or leave out --dev.',
    ] })
    expect(await refused(['serve', '--dev'], { ANNAL_ALGORITHMS: 'ES256' })).toEqual({ code: 2, lines: [
      'annal: --dev makes its own token issuer and takes no production settings: drop ANNAL_ALGORITHMS, or leave out --dev.',
    ] })
  })

  it('refuses an unknown config key, naming the closest known one', async () => {
    const typo = await file('typo.json', { dta: './data' })
    expect(await refused(['serve', '--dev', '--config', typo])).toEqual({ code: 2, lines: [
      `annal: ${typo} has an unknown key "dta"; did you mean "data"?`,
    ] })
    expect(await refused(['auth', 'check', '--config', await file('case.json', { jwksurl: 'x' }), 'token'])).toEqual({ code: 2, lines: [
      `annal: ${join(tmp, 'case.json')} has an unknown key "jwksurl"; did you mean "jwksUrl"?`,
    ] })
    const far = await refused(['serve', '--dev', '--config', await file('far.json', { listenAddress: 'x' })])
    expect(far.code).toBe(2)
    expect(far.lines).toEqual([expect.stringMatching(/has an unknown key "listenAddress"; the keys are data, database, host, port, originPrefix, .*witnessAlertAfterMs, publish, .*publishCredentials, metrics, dashboard, alerts, scopeCeilings\.$/)])
  })

  it('names the ledger that another process holds, exit code 1', async () => {
    const data = join(tmp, 'held')
    const holder = await Ledger.open(data)
    try {
      expect(await refused(['serve', '--dev', '--data', data, '--port', '0'])).toEqual({ code: 1, lines: [
        `annal: the ledger ${data} is open in another process (another 'annal serve'?); stop it, or give another --data.`,
      ] })
    } finally {
      await holder.close()
    }
  })

  it('refuses a --database that is not a postgres:// URL without repeating it, exit code 2', async () => {
    for (const given of [['--database', 'secret-password'], ['--database', 'mysql://u:secret@h/db']]) {
      const { code, lines } = await refused(['serve', '--dev', '--data', join(tmp, 'd'), '--port', '0', ...given])
      expect({ code, lines }).toEqual({ code: 2, lines: [
        'annal: --database (ANNAL_DATABASE, database in the config file) must be a postgres://user:password@host:port/database URL.',
      ] })
    }
  })

  it('names a database it cannot reach with its password hidden, exit code 1', async () => {
    const { code, lines } = await refused(['serve', '--dev', '--data', join(tmp, 'd'), '--port', '0'],
      { ANNAL_DATABASE: 'postgres://annal:s3cret@127.0.0.1:1/ledger' })
    expect(code).toBe(1)
    expect(lines).toEqual([expect.stringMatching(/^annal: cannot open the database postgres:\/\/annal:\*\*\*@127\.0\.0\.1:1\/ledger: .*ECONNREFUSED/)])
    expect(lines.join('\n')).not.toContain('s3cret')
  })

  it('names a ledger it cannot open, exit code 1', async () => {
    const notADirectory = await file('plain', {})
    const { code, lines } = await refused(['serve', '--dev', '--data', notADirectory, '--port', '0'])
    expect({ code, lines }).toEqual({ code: 1, lines: [expect.stringMatching(new RegExp(`^annal: cannot open the ledger ${notADirectory}: ENOTDIR: `))] })
  })
})

describe('annal serve --dev beyond loopback', () => {
  it('warns that the dev issuer\'s tokens are accepted from other machines', async () => {
    const server = await started(['--dev', '--data', join(tmp, '.annal'), '--host', '0.0.0.0', '--port', '0'])
    const { err } = await server.stop()
    expect(err).toEqual(['annal: warning: --dev on 0.0.0.0 is reachable from other machines, and it accepts the dev token issuer\'s '
      + 'tokens, printed below; use --host 127.0.0.1 to keep a trial on this machine.'])
  })

  it('says nothing on loopback', async () => {
    await mkdir(join(tmp, 'quiet'))
    const server = await started(['--dev', '--data', join(tmp, 'quiet', '.annal'), '--port', '0'])
    expect((await server.stop()).err).toEqual([])
  })
})

describe('annal serve dashboard', () => {
  it('--dev: serves the dashboard at / and prints a sign-in link whose key fetches the printed tokens', async () => {
    const server = await started(['--dev', '--data', join(tmp, '.annal'), '--port', '0'])
    const page = await fetch(`${server.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toMatch(/<script type="module" src="\/main-[A-Z0-9]{8}\.js">/)
    const { out } = await server.stop()
    const banner = out.join('\n')
    const link = /^dashboard \(.*\): (\S+)$/m.exec(banner)![1]!
    expect(link).toMatch(new RegExp(`^${server.url}/#dev-sign-in=[A-Za-z0-9_-]{43}$`))

    const again = await started(['--dev', '--data', join(tmp, '.annal'), '--port', '0'])
    const key = /^dashboard \(.*\): \S+#dev-sign-in=(\S+)$/m
    const headers = (value: string) => ({ 'annal-dev-key': value })
    // The key of an earlier start fetches nothing: each start makes its own.
    expect((await fetch(`${again.url}/dev-tokens`, { headers: headers(key.exec(banner)![1]!) })).status).toBe(404)
    const { out: printed } = await again.stop()
    expect(key.exec(printed.join('\n'))![1]).not.toBe(key.exec(banner)![1])
  })

  it('hands the dev tokens to a page holding this start\'s key', async () => {
    const out: string[] = []
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => { stop = resolve })
    let printed!: (banner: string) => void
    const bannerDone = new Promise<string>((resolve) => { printed = resolve })
    const exited = serveCommand(['--dev', '--data', join(tmp, '.annal'), '--port', '0'], (line) => {
      out.push(line)
      if (line.startsWith('  curl -s \'')) printed(out.join('\n'))
    }, stopped, { err: () => undefined, env: {} })
    const banner = await bannerDone
    const url = /on (http\S+)$/m.exec(banner)![1]!
    const key = /#dev-sign-in=(\S+)$/m.exec(banner)![1]!
    const answer = await fetch(`${url}/dev-tokens`, { headers: { 'annal-dev-key': key } })
    expect(answer.status).toBe(200)
    const { tokens } = await answer.json() as { tokens: { role: string; scope: string; token: string }[] }
    expect(tokens.map((token) => token.role)).toEqual(['admin', 'appender', 'reader', 'auditor'])
    for (const { role, token } of tokens) expect(banner).toContain(`${role.padEnd(9)} (${tokens.find((t) => t.role === role)!.scope}), valid 24 h:\n  ${token}`)
    expect((await fetch(`${url}/dev-tokens`)).status).toBe(404)
    stop()
    expect(await exited).toBe(0)
  })

  it('serves none with --no-dashboard, ANNAL_DASHBOARD=off or "dashboard": false', async () => {
    const config = await file('config.json', { dashboard: false })
    for (const [args, env] of [[['--no-dashboard'], {}], [[], { ANNAL_DASHBOARD: 'off' }], [['--config', config], {}]] as const) {
      const server = await started(['--dev', '--data', join(tmp, '.annal'), '--port', '0', ...args], env)
      expect((await fetch(`${server.url}/`)).status, JSON.stringify([args, env])).toBe(404)
      expect((await server.stop()).out.join('\n')).not.toContain('dashboard')
    }
  })

  it('refuses a setting that is neither on nor off, exit code 2', async () => {
    expect(await refused(['serve', '--dev', '--port', '0'], { ANNAL_DASHBOARD: 'maybe' }))
      .toEqual({ code: 2, lines: ['annal: ANNAL_DASHBOARD must be on or off.'] })
    expect(await refused(['serve', '--dev', '--port', '0', '--config', await file('c.json', { dashboard: 'no' })]))
      .toEqual({ code: 2, lines: ['annal: dashboard in the config file must be true or false.'] })
  })

  it('in production, prints where the dashboard is', async () => {
    const { jwks } = await issuer('https://login.test', 'https://annal.test/')
    const server = await started(['--data', join(tmp, 'prod'), '--port', '0', '--issuer', 'https://login.test',
      '--audience', 'https://annal.test/', '--jwks-file', jwks])
    expect((await server.stop()).out).toContain(`dashboard: ${server.url}/`)
  })
})

import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseSignerKey, parseVerifierKey } from '@annal/note'
import { decodeJwt } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Context } from '../context.js'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { serveCommand } from '../serve.js'

let tmp: string
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'annal-cli-keys-'))
})
afterEach(async () => rm(tmp, { recursive: true, force: true }))

async function run(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}) {
  const io = memoryIo({ cwd: options.cwd ?? tmp, env: options.env ?? {}, input: options.input })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

describe('annal keys generate', () => {
  it('writes the signer key with mode 0600 and prints only the verifier key', async () => {
    const { code, stdout, stderr } = await run(['keys', 'generate', 'witness.example/w1'])
    expect(code).toBe(0)
    const path = join(tmp, 'witness.example-w1.key')
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(parseSignerKey((await readFile(path, 'utf8')).trim()).name).toBe('witness.example/w1')
    expect(parseVerifierKey(stdout.trim()).name).toBe('witness.example/w1')
    expect(stdout + stderr).not.toContain('PRIVATE+KEY')
    expect(stderr).toContain('mode 0600')
  })

  it('takes --out and --json, and refuses to overwrite a key', async () => {
    const missingDirectory = await run(['keys', 'generate', 'log.example', '--out', 'k/log.key'])
    expect(missingDirectory.code).toBe(1)
    expect(missingDirectory.stdout).toBe('')
    await mkdir(join(tmp, 'k'))
    const made = await run(['keys', 'generate', 'log.example', '--out', 'k/log.key', '--json'])
    expect(made.code).toBe(0)
    const printed = JSON.parse(made.stdout) as Record<string, string>
    expect(printed).toEqual({ name: 'log.example', verifier_key: printed.verifier_key, signer_key_file: join(tmp, 'k', 'log.key') })
    expect(made.stdout).not.toContain('PRIVATE+KEY')
    const before = await readFile(join(tmp, 'k', 'log.key'), 'utf8')
    const again = await run(['keys', 'generate', 'other', '--out', 'k/log.key'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^annal: \S+log\.key exists already; keys generate does not overwrite a key\.\n$/)
    expect(await readFile(join(tmp, 'k', 'log.key'), 'utf8')).toBe(before)
    const nowhere = await run(['keys', 'generate', 'other', '--out', 'missing/log.key'])
    expect([nowhere.code, nowhere.stderr]).toEqual([1, `annal: ${join(tmp, 'missing')} does not exist; create it first or give another --out.\n`])
  })

  it('refuses a name that is not a key name', async () => {
    const { code, stderr } = await run(['keys', 'generate', 'has space'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/^annal: the key name "has space" has spaces, control characters or \+; choose another\.\n$/)
  })
})

describe('annal dev token', () => {
  it('refuses a ledger that never ran a dev server, and bad options', async () => {
    expect((await run(['init'])).code).toBe(0)
    const none = await run(['dev', 'token', '--scope', 'log:read'])
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/^annal: \S+\.annal has no dev issuer; run 'annal serve --dev' on it first\.\n$/)
    expect((await run(['dev', 'token', '--scope', ' '])).code).toBe(2)
    expect((await run(['dev', 'token', '--scope', 'log:read', '--ttl', '1 week'])).code).toBe(2)
    expect((await run(['dev', 'token'])).code).toBe(2)
  })

  it('mints tokens that the running annal serve --dev of the nearest ledger accepts', async () => {
    expect((await run(['init'])).code).toBe(0)
    let stop!: () => void
    const stopped = new Promise<void>((resolve) => { stop = resolve })
    const lines: string[] = []
    let bannered!: () => void
    const banner = new Promise<void>((resolve) => { bannered = resolve })
    const sub = join(tmp, 'sub')
    await mkdir(sub)
    const serving = serveCommand(['--dev', '--port', '0'], (line) => {
      lines.push(line)
      if (line.startsWith('try:')) bannered()
    }, stopped, { findLedger: () => new Context(memoryIo({ cwd: sub }), {}).findLedger() })
    try {
      await Promise.race([banner, serving])
      const text = lines.join('\n')
      // The ledger init made: its log main is served, and no audit log is made beside it.
      expect(text).toContain(`annal serving ${join(tmp, '.annal')} on `)
      expect(text).toContain('log "main" verifier key: ')
      expect(text).not.toContain('log "audit"')
      const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)![1]!
      expect((await stat(join(tmp, '.annal', 'dev-issuer.jwk'))).mode & 0o777).toBe(0o600)
      expect(text).not.toContain('"d"')

      const minted = await run(['dev', 'token', '--scope', 'log:append log:read', '--ttl', '10m', '--json'], { cwd: sub })
      expect(minted.code).toBe(0)
      const { token, audience } = JSON.parse(minted.stdout) as { token: string; audience: string }
      expect(audience).toBe(url)
      const claims = decodeJwt(token)
      expect(claims).toMatchObject({ aud: url, scope: 'log:append log:read' })
      expect(claims.exp! - claims.iat!).toBe(600)
      const appended = await run(['append', '-', '--url', url], { cwd: sub, input: '{"a":1}', env: { ANNAL_TOKEN: token } })
      expect(appended.code).toBe(0)
      expect(appended.stdout).toMatch(/^appended 1 entry to main, 0, checkpoint size 1\n/)
      const plain = await run(['dev', 'token', '--scope', 'log:read', '--audience', 'https://elsewhere.example/'], { cwd: sub })
      expect(decodeJwt(plain.stdout.trim()).aud).toBe('https://elsewhere.example/')
    } finally {
      stop()
      await serving
    }
  })
})

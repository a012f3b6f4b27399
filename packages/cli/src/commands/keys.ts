import { open } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { nodeEd25519, nodeHasher } from '@annal/crypto-node'
import { generateKeyPair, isValidKeyName } from '@annal/note'
import type { Context } from '../context.js'
import { loadDevIssuer, readDevUrl } from '../dev-issuer.js'
import { Failure, UsageError } from '../failure.js'
import type { Program } from '../program.js'

/** `keys generate` and `dev token`. */
export function registerKeys(program: Program): void {
  const keys = program.root.command('keys').description('make signing keys')
  program.command<{ out?: string }, [string]>(keys, {
    name: 'generate',
    description: 'make a C2SP signed-note Ed25519 key pair: the signer key to a file (mode 0600), the verifier key printed',
    example: 'annal keys generate witness.example/w1 --out w1.key',
    options: ['json'],
    setup: (command) => command.argument('<name>', 'the key name (no spaces or +), e.g. a log origin or witness name')
      .option('--out <path>', 'where to write the signer key (default: <name>.key here, / and other marks made -)'),
    action: generateKeys,
  })

  const dev = program.root.command('dev').description('local trial helpers for a ledger served with annal serve --dev')
  program.command<{ scope: string; ttl: string; audience?: string }, []>(dev, {
    name: 'token',
    description: 'mint an access token from the dev issuer of this ledger, which its annal serve --dev accepts',
    example: 'annal dev token --scope "log:read log:append" --ttl 8h',
    options: ['json', 'data'],
    setup: (command) => command.requiredOption('--scope <scopes>', 'space-separated scopes, e.g. "log:read log:append:main"')
      .option('--ttl <duration>', 'how long it is valid: a number and s, m, h or d', '1h')
      .option('--audience <url>', 'the server it is for (default: where annal serve --dev last listened for this ledger)'),
    action: devToken,
  })
}

async function generateKeys(ctx: Context, options: { out?: string }, name: string): Promise<void> {
  if (!isValidKeyName(name)) throw new UsageError(`the key name ${JSON.stringify(name)} has spaces, control characters or +; choose another`)
  const path = resolve(ctx.io.cwd, options.out ?? `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.key`)
  const pair = generateKeyPair(name, { providers: { hash: nodeHasher.provider, signature: nodeEd25519 } })
  let file
  try {
    file = await open(path, 'wx', 0o600)
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') throw new Failure(`${path} exists already; keys generate does not overwrite a key`)
    if ((error as { code?: string }).code === 'ENOENT') throw new Failure(`${dirname(path)} does not exist; create it first or give another --out`)
    throw error
  }
  try {
    await file.writeFile(`${pair.signerKey}\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  ctx.print({ name, verifier_key: pair.verifierKey, signer_key_file: path }, () => {
    ctx.io.out(pair.verifierKey)
    ctx.io.err(`signer key written to ${path} (mode 0600); keep it secret`)
  })
}

async function devToken(ctx: Context, options: { scope: string; ttl: string; audience?: string }): Promise<void> {
  const scope = options.scope.split(' ').filter(Boolean).join(' ')
  if (scope === '') throw new UsageError('--scope needs at least one scope, e.g. "log:read"')
  if (!/^[1-9][0-9]{0,5}[smhd]$/.test(options.ttl)) throw new UsageError('--ttl takes a number and s, m, h or d, e.g. 1h')
  const directory = ctx.ledgerDir()
  const issuer = await loadDevIssuer(directory)
  if (issuer === undefined) throw new Failure(`${directory} has no dev issuer; run 'annal serve --dev' on it first`)
  const audience = options.audience ?? await readDevUrl(directory)
  if (audience === undefined) throw new Failure(`no dev server has listened for ${directory} yet; pass --audience URL`)
  const token = await issuer.issue({ audience, scope, subject: 'dev-token', ttl: options.ttl })
  ctx.print({ token, audience, scope }, () => ctx.io.out(token))
}

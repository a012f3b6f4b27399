import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type AnnalApp, type RunningServer, createApp, serve } from '@annal/server'
import { Ledger } from '@annal/store'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'

const ISSUER = 'https://issuer.test'
const AUDIENCE = 'https://annal.test/'

/** A real server for the command's remote paths: a ledger with the log `main` in a temp dir, on 127.0.0.1. */
export interface TestServer {
  readonly url: string
  readonly ledger: Ledger
  readonly app: AnnalApp
  /** A token with these scopes, trusted by the server. */
  token(scope: string): Promise<string>
  close(): Promise<void>
}

export async function testServer(): Promise<TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-cli-server-'))
  const ledger = await Ledger.open(directory, { originPrefix: 'annal.test' })
  await ledger.createLog('main')
  const { publicKey, privateKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test', alg: 'ES256' }
  const app = await createApp({ ledger, auth: { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] } } })
  const running: RunningServer = await serve(app)
  return {
    url: running.url, ledger, app,
    token: (scope) => new SignJWT({ scope, client_id: 'cli-test' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'test' })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('tester').setIssuedAt().setExpirationTime('1h').setJti(randomUUID())
      .sign(privateKey),
    close: async () => {
      await running.close()
      await ledger.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}

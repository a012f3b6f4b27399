import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { alertSettings } from './serve-alerts.js'

const SECRET = `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}`

it('reads webhook secrets from a file or the environment, and names what is wrong without them', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'annal-serve-alerts-'))
  try {
    await writeFile(join(directory, 'secret'), `${SECRET}\n`)
    const settings = await alertSettings({
      alerts: {
        rules: { insufficientScope: { count: 3 } }, backoffMs: 50,
        webhooks: [{ url: 'http://127.0.0.1:1/a', secretFile: join(directory, 'secret') }, { url: 'http://127.0.0.1:1/b', secretEnv: 'HOOK' }],
      },
    }, { HOOK: SECRET })
    expect(settings).toEqual({
      rules: { insufficientScope: { count: 3 } }, webhookTiming: { backoffMs: 50 },
      webhooks: [{ url: 'http://127.0.0.1:1/a', secret: SECRET }, { url: 'http://127.0.0.1:1/b', secret: SECRET }],
    })
    expect(await alertSettings({}, {})).toEqual({})
    for (const [alerts, message] of [
      [{ webhooks: [{ url: 'http://x/', secretEnv: 'NONE' }] }, 'the environment has no NONE'],
      [{ webhooks: [{ url: 'http://x/', secretEnv: 'HOOK', secretFile: 'f' }] }, 'takes one of secretFile and secretEnv'],
      [{ webhooks: [{ url: 'http://x/', secretFile: join(directory, 'absent') }] }, 'cannot read the secret file of alerts.webhooks[0]'],
      [{ retries: 3 }, 'alerts.retries is not a setting'],
    ] as const) {
      const error = await alertSettings({ alerts }, { HOOK: SECRET }).catch((caught: Error) => caught)
      expect((error as Error).message).toContain(message)
      expect((error as Error).message).not.toContain(SECRET)
    }
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
})

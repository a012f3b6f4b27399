// `annal serve`'s alert settings, from the config file's `alerts` key. Webhook secrets come
// from a file or an environment variable, never from the config itself, and are never printed.
import { readFile } from 'node:fs/promises'
import type { AlertsOptions } from '@annal/server'
import { UsageError } from './failure.js'

export const ALERT_CONFIG_KEYS = 'alerts ({rules, webhooks: [{url, secretFile | secretEnv}], backoffMs, maxBackoffMs})'

const TIMING = ['backoffMs', 'maxBackoffMs', 'timeoutMs'] as const

/**
 * The `alerts` key of the config file as createApp's `alerts` option (docs/operations.md).
 * @throws UsageError naming the setting that is wrong (never a secret).
 */
export async function alertSettings(file: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<AlertsOptions> {
  const config = file.alerts
  if (config === undefined) return {}
  if (!isObject(config)) throw new UsageError('alerts in the config file must be an object')
  const { rules, webhooks = [], ...rest } = config
  if (rules !== undefined && !isObject(rules)) throw new UsageError('alerts.rules must be an object of rules')
  if (!Array.isArray(webhooks)) throw new UsageError('alerts.webhooks must be a list of {url, secretFile | secretEnv}')
  const timing: Record<string, number> = {}
  for (const [name, value] of Object.entries(rest)) {
    if (!(TIMING as readonly string[]).includes(name)) throw new UsageError(`alerts.${name} is not a setting`)
    if (typeof value !== 'number') throw new UsageError(`alerts.${name} must be a number`)
    timing[name] = value
  }
  return {
    ...(rules === undefined ? {} : { rules }),
    webhooks: await Promise.all(webhooks.map((hook, i) => webhook(hook, i, env))),
    webhookTiming: timing,
  }
}

async function webhook(hook: unknown, i: number, env: NodeJS.ProcessEnv): Promise<{ url: string; secret: string }> {
  const where = `alerts.webhooks[${i}]`
  if (!isObject(hook) || typeof hook.url !== 'string') throw new UsageError(`${where} must be {url, secretFile | secretEnv}`)
  const { secretFile, secretEnv } = hook
  if ((secretFile === undefined) === (secretEnv === undefined)) throw new UsageError(`${where} takes one of secretFile and secretEnv`)
  let secret: string | undefined
  if (typeof secretFile === 'string') {
    secret = await readFile(secretFile, 'utf8').catch(() => {
      throw new UsageError(`cannot read the secret file of ${where}`)
    })
  } else if (typeof secretEnv === 'string') {
    secret = env[secretEnv]
    if (secret === undefined) throw new UsageError(`${where}: the environment has no ${secretEnv}`)
  } else {
    throw new UsageError(`${where}: secretFile and secretEnv are strings`)
  }
  return { url: hook.url, secret: secret.trim() }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

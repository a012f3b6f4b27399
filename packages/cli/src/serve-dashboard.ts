// `annal serve`'s dashboard: @annal/dashboard's built files at `/`, on unless turned off, and with
// --dev a sign-in link that hands the page the dev tokens.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { DashboardOptions, DevToken } from '@annal/server'
import { Failure, UsageError } from './failure.js'

export const DASHBOARD_USAGE = `  --no-dashboard  serve no dashboard at / (by default the web dashboard is served there; it calls
                 the API with the token its user signs in with). ANNAL_DASHBOARD=off, or
                 "dashboard": false in the config file, does the same`

/** Whether to serve the dashboard: --no-dashboard, else ANNAL_DASHBOARD (on/off), else `dashboard` in the config file. */
export function dashboardWanted(flag: unknown, env: Readonly<Record<string, string | undefined>>, file: Record<string, unknown>): boolean {
  if (flag === true) return false
  const variable = env.ANNAL_DASHBOARD
  if (variable !== undefined) {
    if (variable === 'on') return true
    if (variable === 'off') return false
    throw new UsageError('ANNAL_DASHBOARD must be on or off')
  }
  if (file.dashboard !== undefined && typeof file.dashboard !== 'boolean') throw new UsageError('dashboard in the config file must be true or false')
  return file.dashboard !== false
}

/** Where @annal/dashboard's build put its files. */
export function dashboardDirectory(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@annal/dashboard/package.json')), 'dist')
}

/**
 * The dashboard's options for the app; with `devTokens`, a fresh sign-in key (never stored: a
 * restart makes the old link useless) that the banner's link carries.
 * @throws Failure when the dashboard was never built.
 */
export function dashboardOptions(devTokens?: readonly DevToken[]): DashboardOptions {
  const directory = dashboardDirectory()
  if (!existsSync(join(directory, 'index.html'))) {
    throw new Failure(`the dashboard's files are missing from ${directory}: build them with npm run build, or start with --no-dashboard`)
  }
  return {
    directory,
    ...(devTokens === undefined ? {} : { devSignIn: { key: randomBytes(32).toString('base64url'), tokens: devTokens } }),
  }
}

/** The address the banner gives for the dashboard: with the dev sign-in key in the fragment, which browsers never send. */
export function dashboardLink(url: string, options: DashboardOptions): string {
  return options.devSignIn === undefined ? `${url}/` : `${url}/#dev-sign-in=${options.devSignIn.key}`
}

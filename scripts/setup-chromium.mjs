// Makes sure the browser test has a Chromium: Debian's package, installed with apt-get when run as
// root (as CI runs `npm test` on a fresh machine), so no tool downloads a browser at run time.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const browser = process.env.ANNAL_CHROMIUM ?? '/usr/bin/chromium'

function fail(message) {
  console.error(`setup-chromium: ${message}`)
  process.exit(1)
}

/** Runs an apt-get command quietly; its output is shown only when it fails. */
function aptGet(...args) {
  const result = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.error !== undefined) fail(`apt-get ${args[0]} could not run (${result.error.message}); install Chromium yourself and set ANNAL_CHROMIUM to its path.`)
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr)
    fail(`apt-get ${args.join(' ')} exited with ${result.status ?? result.signal}.`)
  }
}

if (!existsSync(browser)) {
  if (process.env.ANNAL_CHROMIUM !== undefined) fail(`ANNAL_CHROMIUM is ${browser}, which does not exist.`)
  if (process.getuid?.() !== 0) {
    fail('the browser test needs Chromium: run `apt-get install chromium` as root, or set ANNAL_CHROMIUM to a Chromium or Chrome executable.')
  }
  console.log(`setup-chromium: ${browser} is missing; installing Debian's chromium package with apt-get`)
  aptGet('update', '-qq')
  aptGet('install', '-y', '-qq', '--no-install-recommends', 'chromium')
  if (!existsSync(browser)) fail(`apt-get installed chromium, but ${browser} is still missing.`)
}

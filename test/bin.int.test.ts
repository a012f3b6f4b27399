// The `annal` bin as the README's setup line leaves it: npm links node_modules/.bin/annal at
// install time, before anything is built, so the link must point at a committed launcher.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const repositoryRoot = fileURLToPath(new URL('..', import.meta.url))
const cliPackage = createRequire(import.meta.url).resolve('@annal/cli/package.json')
const directories: string[] = []

afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

describe('the annal bin', () => {
  it('runs as `npx --no annal help` from the repository root', async () => {
    // --no: fail rather than fetch a package named annal when the link is missing.
    const { stdout } = await run('npx', ['--no', 'annal', 'help'], { cwd: repositoryRoot, timeout: 60_000 })
    expect(stdout).toContain('Usage: annal [options] [command]')
    expect(stdout).toContain('serve')
  })

  it('is linked by npm before anything is built, and then says in one sentence to build', async () => {
    // packages/cli as a fresh clone has it (no dist/), installed into a project the way npm ci links workspaces.
    const cli = JSON.parse(await readFile(cliPackage, 'utf8')) as { name: string; type: string; bin: Record<string, string> }
    const root = await mkdtemp(join(tmpdir(), 'annal-unbuilt-'))
    directories.push(root)
    const unbuilt = join(root, 'cli')
    await cp(join(dirname(cliPackage), 'bin'), join(unbuilt, 'bin'), { recursive: true })
    await writeFile(join(unbuilt, 'package.json'), JSON.stringify({ name: cli.name, version: '0.0.0', type: cli.type, bin: cli.bin }))
    const project = join(root, 'project')
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'probe', private: true }))
    await run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', unbuilt],
      { cwd: project, timeout: 60_000 })

    const failure = await run(join(project, 'node_modules', '.bin', 'annal'), ['help'])
      .catch((error: { code: number; stderr: string }) => error)
    expect(failure).toMatchObject({ code: 1 })
    expect((failure as { stderr: string }).stderr.trim().split('\n')).toEqual([
      "annal: the workspace is not built yet; run 'npm run build' in the repository root first.",
    ])
  })
})

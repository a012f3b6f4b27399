import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseVerifierKey } from '@annal/note'
import { afterEach, describe, expect, it } from 'vitest'
import { annalBin } from './process.js'

const execute = promisify(execFile)
const directories: string[] = []
afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})

/** Runs the npm bin in `cwd`, as a user would, and resolves with its output; rejects on a non-zero exit. */
async function annal(cwd: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execute(process.execPath, [annalBin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ANNAL_URL: '', ANNAL_DIR: '' } })
}

describe('a ledger with the annal command, as a real process', () => {
  it('init, append a file, log, then show by prefix from a subdirectory', async () => {
    const root = await mkdtemp(join(tmpdir(), 'annal-ledger-cli-'))
    directories.push(root)
    const init = await annal(root, 'init')
    const verifierKey = /verifier key: (\S+)/.exec(init.stdout)![1]!

    await writeFile(join(root, 'events.ndjson'), '{"actor":"alice","action":"login"}\n{"actor":"bob","action":"export"}\n')
    const appended = await annal(root, 'append', 'events.ndjson')
    expect(appended.stdout).toMatch(/^appended 2 entries to main, 0\.\.1, checkpoint size 2\n/)

    const oneline = (await annal(root, 'log', '--oneline')).stdout.trim().split('\n')
    expect(oneline).toHaveLength(2)
    expect(oneline[0]).toMatch(/^[0-9a-f]{7,} 1 \S+ \{"actor":"bob","action":"export"\}$/)
    const abbreviation = oneline[0]!.split(' ')[0]!

    const sub = join(root, 'src', 'deep')
    await mkdir(sub, { recursive: true })
    const shown = JSON.parse((await annal(sub, 'show', abbreviation, '--json')).stdout) as Record<string, any>
    expect(shown).toMatchObject({ index: 1, payload: { actor: 'bob', action: 'export' } })
    expect(shown.id.startsWith(abbreviation)).toBe(true)

    // The leaf written to stdout is exactly the bytes the id hashes.
    const leaf = await new Promise<Buffer>((resolve, reject) => {
      execFile(process.execPath, [annalBin, 'show', abbreviation, '--leaf'], { cwd: sub, encoding: 'buffer' },
        (error, stdout) => (error === null ? resolve(stdout) : reject(error)))
    })
    expect(createHash('sha256').update(Uint8Array.of(0)).update(leaf).digest('hex')).toBe(shown.id)

    // The key init printed verifies the log's checkpoint.
    const logs = JSON.parse((await annal(sub, 'logs', '--json')).stdout) as { logs: { name: string; origin: string; size: number; verifier_key: string }[] }
    expect(logs.logs).toEqual([{ name: 'main', origin: expect.any(String), size: 2, verifier_key: verifierKey }])
    expect(parseVerifierKey(verifierKey).name).toBe(logs.logs[0]!.origin)

    const refused = await annal(root, 'init').catch((error: { code: number; stderr: string }) => error)
    expect(refused).toMatchObject({ code: 1 })
    expect((refused as { stderr: string }).stderr).toMatch(/^annal: \S+\.annal exists already; annal init does not overwrite a ledger\.\n$/)

    // Where the kernel refuses the directory (Node's own recursive mkdir loops forever there).
    if (process.platform === 'linux') {
      const unmakeable = await annal(root, 'init', '/proc/annal-test').catch((error: { code: number; stderr: string }) => error)
      expect(unmakeable).toMatchObject({ code: 1, stderr: expect.stringMatching(/^annal: cannot make the directory \/proc\/annal-test: ENOENT/) })
    }
  })
})

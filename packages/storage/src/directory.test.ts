import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { makeDirectory } from './directory.js'

let root: string
beforeEach(async () => { root = await mkdtemp(join(tmpdir(), 'annal-directory-')) })
afterEach(async () => rm(root, { recursive: true, force: true }))

describe('makeDirectory', () => {
  it('makes missing parents with the mode, and takes an existing directory', async () => {
    const path = join(root, 'a', 'b', 'c')
    await makeDirectory(path, 0o700)
    expect((await stat(path)).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'a'))).mode & 0o777).toBe(0o700)
    await makeDirectory(path, 0o700)
  })

  it('fails on a file in the way', async () => {
    await writeFile(join(root, 'file'), '')
    await expect(makeDirectory(join(root, 'file'))).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(makeDirectory(join(root, 'file', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' })
  })

  // Node's recursive mkdir loops forever here.
  it.runIf(process.platform === 'linux')('fails where the kernel refuses a directory whose parent exists', async () => {
    await expect(makeDirectory('/proc/annal-test/keys')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { formatEvidence } from '../split-view.js'
import { expectRejection } from '../testing/expect.js'
import { readEvidence, writeEvidence } from './evidence.js'

const evidence = {
  old: 'example.com/log\n4\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log sig1\n',
  new: 'example.com/log\n6\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n— example.com/log sig2\n',
  oldSizeRoot: 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=',
  proof: ['AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI='],
}

it('saves evidence as formatEvidence prints it, and reads it back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'annal-evidence-'))
  try {
    const path = join(dir, 'split-view.txt')
    await writeFile(path, 'an older file')
    await writeEvidence(path, evidence)
    expect(await readFile(path, 'utf8')).toBe(formatEvidence(evidence))
    expect((await stat(path)).mode & 0o777).toBe(0o644 & ~process.umask())
    expect(await readdir(dir)).toEqual(['split-view.txt'])
    expect(await readEvidence(path)).toEqual(evidence)
    await writeFile(path, formatEvidence(evidence).replace('old:', 'older:'))
    await expectRejection(readEvidence(path), 'EVIDENCE_MALFORMED')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

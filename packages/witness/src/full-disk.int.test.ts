// runWitness on a real filesystem that fills up: a 384 KiB tmpfs under add-checkpoint requests
// until the witness cannot store what it would cosign, then grown. It must answer 503 with
// Retry-After meanwhile, tell onStorageHealth once each way, and cosign on from the state it
// had acknowledged once there is room, without a restart. Mounting a tmpfs needs root: without
// it the test says so as its skip reason.
import { join } from 'node:path'
import { smallFilesystem } from '@annal/storage/testing'
import type { WriteHealth } from '@annal/storage'
import { expect, it } from 'vitest'
import { runWitness } from './run.js'
import { TestLog } from './testing/log.js'

const KIB = 2 ** 10
const MIB = 2 ** 20

it('a full filesystem: 503 with Retry-After, said once each way, and cosigning on once it grows', async (ctx) => {
  const filesystem = await smallFilesystem(384 * KIB)
  if ('unavailable' in filesystem) return ctx.skip(filesystem.unavailable)
  const log = new TestLog('example.com/full-disk-log')
  log.append(5000)
  const healths: WriteHealth[] = []
  const witness = await runWitness({
    data: join(filesystem.directory, 'witness'), name: 'witness.example/full-disk', logs: [log.verifierKey],
    onStorageHealth: (health) => healths.push(health),
  })
  try {
    const post = (from: number, to: number) => fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: log.body(from, to) })
    let size = 0
    let refused: Response | undefined
    while (refused === undefined && size < 5000) {
      const response = await post(size, size + 1)
      if (response.status === 200) size++
      else refused = response
    }
    expect(refused?.status).toBe(503)
    expect(refused!.headers.get('retry-after')).toBe('5')
    expect(await refused!.json()).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
    expect(healths).toMatchObject([{ ok: false, recovering: true }])
    expect((await fetch(`${witness.url}/readyz`)).status).toBe(503)

    await filesystem.resize(16 * MIB)
    for (const deadline = Date.now() + 20_000; (await fetch(`${witness.url}/readyz`)).status !== 200;) {
      if (Date.now() > deadline) throw new Error('the witness did not recover')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(healths.map((health) => health.ok)).toEqual([false, true])
    expect((await witness.witness.latest(log.origin))?.size).toBe(size)
    expect((await post(size, size + 10)).status).toBe(200)
  } finally {
    await witness.close()
    await filesystem.remove()
  }
})

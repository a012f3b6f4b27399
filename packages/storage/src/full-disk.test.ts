// A real full filesystem under a RecoveringDriver on LevelDB: a tmpfs filled until a write
// fails, then grown. After LevelDB fails to append to its log, the same handle takes later
// writes and then loses them on the next open; recovery must reopen, and nothing acknowledged
// may be missing afterwards. Mounting needs root: without it the test says so as its skip reason.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { faultCode, probeDirectory } from './faults.js'
import { LevelDriver } from './level-driver.js'
import { RecoveringDriver, type WriteHealth } from './recovering-driver.js'
import { smallFilesystem } from './testing/small-filesystem.js'

const KIB = 2 ** 10
const MIB = 2 ** 20

it('recovers from a real full filesystem once it grows, with every acknowledged write kept', async (ctx) => {
  const filesystem = await smallFilesystem(MIB)
  if ('unavailable' in filesystem) return ctx.skip(filesystem.unavailable)
  const path = join(filesystem.directory, 'db')
  const open = () => LevelDriver.open(path)
  const healths: WriteHealth[] = []
  const driver = new RecoveringDriver(await open(), {
    reopen: open, probe: () => probeDirectory(path, 256 * KIB), onHealth: (health) => healths.push(health),
    firstRetryMs: 5, maxRetryMs: 100,
  })
  try {
    const acknowledged: Uint8Array[] = []
    const put = async (n: number) => {
      const key = Uint8Array.of(0x6b, n >> 8, n & 0xff)
      await driver.write([{ type: 'put', key, value: randomBytes(4 * KIB) }], { sync: true })
      acknowledged.push(key)
    }
    let n = 0
    let failure: unknown
    for (; n < 1000 && failure === undefined; n++) await put(n).catch((error: unknown) => { failure = error })
    expect(failure).toMatchObject({ code: 'STORAGE_UNWRITABLE' })
    expect(faultCode(failure)).toBe('ENOSPC')
    expect(driver.health).toMatchObject({ ok: false, recovering: true })
    expect(await driver.get(acknowledged[0]!)).toBeDefined()

    await filesystem.resize(16 * MIB)
    for (const deadline = Date.now() + 20_000; !driver.health.ok;) {
      if (Date.now() > deadline) throw new Error(`no recovery: ${String(driver.health.error)}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    for (const end = n + 300; n < end; n++) await put(n)
    expect(healths.map((health) => health.ok)).toEqual([false, true])

    // What a fresh open finds: every acknowledged write.
    await driver.close()
    const reopened = await open()
    try {
      const found = await reopened.getMany(acknowledged)
      expect(found.filter((value) => value === undefined)).toHaveLength(0)
    } finally {
      await reopened.close()
    }
  } finally {
    await driver.close()
    await filesystem.remove()
  }
})

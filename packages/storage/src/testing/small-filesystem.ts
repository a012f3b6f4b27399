import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A tmpfs of a given size, mounted for a test of a real full filesystem. */
export interface SmallFilesystem {
  /** Where it is mounted: an empty directory. */
  readonly directory: string
  /** Grows or shrinks it in place (`mount -o remount,size=`), as an operator adds space. */
  resize(bytes: number): Promise<void>
  /** Unmounts it (lazily if something still holds it open) and removes the directory. */
  remove(): Promise<void>
}

/**
 * Mounts a tmpfs of `bytes` at a fresh directory; or says why it cannot: mounting needs root
 * (CAP_SYS_ADMIN), which a test that needs it reports as its skip reason.
 */
export async function smallFilesystem(bytes: number): Promise<SmallFilesystem | { readonly unavailable: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'annal-tmpfs-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', directory])
  } catch (error) {
    await rm(directory, { recursive: true, force: true })
    const why = (error as { stderr?: string; message?: string }).stderr?.trim() || (error as Error).message
    return { unavailable: `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN; uid ${process.getuid?.()}): ${why}` }
  }
  return {
    directory,
    resize: async (size) => {
      await run('mount', ['-o', `remount,size=${size}`, directory])
    },
    remove: async () => {
      await run('umount', [directory]).catch(() => run('umount', ['-l', directory]))
      await rm(directory, { recursive: true, force: true })
    },
  }
}

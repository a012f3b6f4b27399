import { mkdir, stat } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * Makes `path` and any missing parents, as `mkdir -p`, each with `mode`. Node's own recursive
 * mkdir never returns where the kernel answers ENOENT for a directory whose parent exists (any
 * path under /proc): it climbs, finds the parent, and tries again. Here each level is tried
 * once, so such a path fails with its ENOENT. An existing non-directory fails with ENOTDIR.
 */
export async function makeDirectory(path: string, mode = 0o777): Promise<void> {
  try {
    await mkdir(path, { mode })
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return isDirectory(path, error)
    const parent = dirname(path)
    if (code !== 'ENOENT' || parent === path) throw error
    await makeDirectory(parent, mode)
  }
  try {
    await mkdir(path, { mode })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    return isDirectory(path, error)
  }
}

async function isDirectory(path: string, error: unknown): Promise<void> {
  if (!(await stat(path)).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`, { cause: error }), { code: 'ENOTDIR', path })
  }
}

import { readdir, readlink, stat, statfs } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'

/** A database directory's files, and the filesystem they are on. */
export interface DiskUsage {
  /** The sizes of the directory's files (not its subdirectories'), summed. */
  readonly bytes: number
  /** Files under the directory this process holds open; undefined where the platform does not say (not Linux). */
  readonly openFiles: number | undefined
  /** Free bytes an unprivileged writer may still use, and the filesystem's size. */
  readonly filesystemAvailableBytes: number
  readonly filesystemSizeBytes: number
}

/**
 * How much a database directory (LevelDB's, a witness's) holds and how much room is left,
 * for metrics: a stat per file, so call it per scrape, not per write.
 * @throws what the filesystem answers for a missing or unreadable directory.
 */
export async function diskUsage(directory: string): Promise<DiskUsage> {
  const names = await readdir(directory)
  const sizes = await Promise.all(names.map(async (name) => {
    const info = await stat(join(directory, name)).catch(() => undefined) // compaction removes files meanwhile
    return info?.isFile() === true ? info.size : 0
  }))
  const fs = await statfs(directory)
  return {
    bytes: sizes.reduce((sum, size) => sum + size, 0),
    openFiles: await openFilesUnder(resolve(directory)),
    filesystemAvailableBytes: fs.bavail * fs.bsize,
    filesystemSizeBytes: fs.blocks * fs.bsize,
  }
}

/** Linux lists the process's descriptors in /proc/self/fd, each a link to what it holds. */
async function openFilesUnder(directory: string): Promise<number | undefined> {
  let descriptors: string[]
  try {
    descriptors = await readdir('/proc/self/fd')
  } catch {
    return undefined
  }
  const targets = await Promise.all(descriptors.map((fd) => readlink(join('/proc/self/fd', fd)).catch(() => '')))
  return targets.filter((target) => target.startsWith(directory + sep)).length
}

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

/** One disk figure as a metrics gauge shows it: its name, its help, and how to read it now. */
export interface DiskFigure {
  readonly name: string
  readonly help: string
  /** The figure, or undefined when the directory cannot be read or the platform does not say. */
  readonly read: () => Promise<number | undefined>
}

/**
 * The disk figures of a database directory for metrics (`annal_storage_*`), described as of
 * `database` ("the ledger database", "the witness database"). The figures read within one turn of
 * the event loop (one scrape) share one look at the disk.
 */
export function diskFigures(directory: string, database: string): DiskFigure[] {
  let usage: Promise<DiskUsage | undefined> | undefined
  const look = () => (usage ??= diskUsage(directory).catch(() => undefined).finally(() => setImmediate(() => { usage = undefined })))
  const figure = (name: string, help: string, value: (u: DiskUsage) => number | undefined): DiskFigure =>
    ({ name, help, read: async () => { const u = await look(); return u === undefined ? undefined : value(u) } })
  return [
    figure('annal_storage_disk_bytes', `Bytes of ${database}'s files.`, (u) => u.bytes),
    figure('annal_storage_open_files', `Files of ${database} this process holds open (Linux only).`, (u) => u.openFiles),
    figure('annal_storage_filesystem_avail_bytes', `Free bytes left to this process on ${database}'s filesystem.`, (u) => u.filesystemAvailableBytes),
    figure('annal_storage_filesystem_size_bytes', `Size of ${database}'s filesystem.`, (u) => u.filesystemSizeBytes),
  ]
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

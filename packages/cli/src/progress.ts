import { Presets, SingleBar } from 'cli-progress'
import type { Io } from './io.js'

/** A progress bar to move as work is done, and to stop when it is over. */
export interface Progress {
  update(done: number, total: number): void
  stop(): void
}

const SILENT: Progress = { update: () => undefined, stop: () => undefined }

/**
 * A progress bar on standard error, labelled `label` and counting `unit`, when standard output
 * is a terminal (a person is watching); otherwise one that prints nothing, so that scripts and
 * redirected output see only the result.
 */
export function progressBar(io: Io, label: string, unit: string): Progress {
  if (!io.isTTY) return SILENT
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} ${unit}`, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic)
  let started = false
  return {
    update(done, total) {
      if (!started) bar.start(total, done)
      started = true
      bar.setTotal(total)
      bar.update(done)
    },
    stop() {
      if (started) bar.stop()
    },
  }
}

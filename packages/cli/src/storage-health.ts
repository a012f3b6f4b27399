import { type WriteHealth, describeFault } from '@annal/storage'

/**
 * What `annal serve` and `annal witness serve` say on stderr as their database's write health
 * changes (RecoveringDriver): once when writes start failing, with the directory and the
 * operating system's error; once when they work again; once if recovery stops for good.
 * `database`: "the ledger", "the witness database"; `refused`: what gets 503 meanwhile.
 */
export function storageHealthReporter(database: string, directory: string, refused: string,
    err: (line: string) => void, clock: () => Date = () => new Date()): (health: WriteHealth) => void {
  let failedSince: Date | undefined
  return (health) => {
    const where = `${database} in ${directory}`
    if (health.ok) {
      const seconds = failedSince === undefined ? undefined : Math.round((clock().getTime() - failedSince.getTime()) / 1000)
      failedSince = undefined
      err(`annal: ${where} can write again${seconds === undefined ? '' : ` after ${seconds} s`}; ${refused} are taken again.`)
    } else if (health.recovering === false) {
      err(`annal: ${where} stays unwritable until restarted: ${describeFault(health.error)}. Find out why before restarting (docs/operations.md).`)
    } else {
      failedSince = health.since
      err(`annal: ${where} cannot write: ${describeFault(health.error)}. ${capitalized(refused)} get 503 until it can; it retries by itself.`)
    }
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

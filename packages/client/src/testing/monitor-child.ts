// Follows a log once with a FileStateStore, appending each handed index to a file, as a monitor
// process would. Arguments: url, policy file, token, state file, output file, and the index at
// which to print `waiting <index>` and hang before handling it (-1: none). Prints `done` at the end.
import { appendFileSync, readFileSync } from 'node:fs'
import { Monitor } from '../monitor.js'
import { FileStateStore } from '../node/file-state.js'
import { parsePolicy } from '../policy.js'

const [url, policyFile, token, statePath, output, hangAt] = process.argv.slice(2) as [string, string, string, string, string, string]
const store = await FileStateStore.open(statePath)
const monitor = new Monitor(url, {
  policy: parsePolicy(readFileSync(policyFile, 'utf8')), store, token,
  onEntry: async (entry) => {
    if (entry.index === Number(hangAt)) {
      console.log(`waiting ${entry.index}`)
      await new Promise(() => undefined)
    }
    appendFileSync(output, `${entry.index}\n`)
  },
})
await monitor.poll()
await store.close()
console.log('done')

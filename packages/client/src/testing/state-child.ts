// Opens a FileStateStore (argv[2]) and says so: `opened`, or `refused <code>`. Opened, it moves
// the state one step on each `cas` line read from stdin (printing `moved <next>` or
// `refused <code>`), and closes the store when stdin ends.
import { createInterface } from 'node:readline'
import { isClientError } from '../errors.js'
import { FileStateStore } from '../node/file-state.js'

let store: FileStateStore
try {
  store = await FileStateStore.open(process.argv[2]!)
} catch (error) {
  if (!isClientError(error)) throw error
  console.log(`refused ${error.code}`)
  process.exit(0)
}
console.log('opened')
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'cas') continue
  const old = await store.load()
  const next = { checkpoint: `moved by ${process.pid}`, next: (old?.next ?? 0) + 1 }
  await store.compareAndSwap(old, next).then(() => console.log(`moved ${next.next}`),
    (error: unknown) => console.log(`refused ${isClientError(error) ? error.code : String(error)}`))
}
await store.close()

// The witness under load in phase 1 of witness.bench.ts, in its own process so the load
// generator's CPU time is not charged to it: runWitness on 127.0.0.1:0 over `data`, witnessing
// `logs`. Answers { url } once listening, { cpuSeconds } (since the last ask) to 'cpu', and
// closes and exits on 'close'.
import { runWitness, type RunningWitness } from '@annal/witness'

type Message = { readonly data: string; readonly logs: readonly string[] } | 'cpu' | 'close'

let running: RunningWitness | undefined
let since = process.cpuUsage()

process.on('message', (message: Message) => {
  void handle(message)
})

async function handle(message: Message): Promise<void> {
  if (message === 'cpu') {
    const cpu = process.cpuUsage(since)
    since = process.cpuUsage()
    process.send?.({ cpuSeconds: (cpu.user + cpu.system) / 1e6 })
  } else if (message === 'close') {
    await running?.close()
    process.send?.({ closed: true }, () => process.exit(0))
  } else {
    running = await runWitness({ data: message.data, name: 'bench.witness', logs: message.logs })
    process.send?.({ url: running.url })
  }
}

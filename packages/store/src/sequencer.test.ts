import { describe, expect, it } from 'vitest'
import { Sequencer, type SequencerSteps, type SequencerTurns } from './sequencer.js'

// The Sequencer on its own, with steps that keep a running total the way a log keeps its head:
// stage builds on the last staged total, write makes it durable (or fails when told to).
// The Log's own tests cover the same paths with the real store.

interface Staged {
  readonly from: number
  readonly to: number
  readonly calls: number
}

function counter(options: { failWrite?: (staged: Staged) => boolean; failStage?: (items: readonly number[]) => boolean } = {}) {
  const events: string[] = []
  const waiting: { readonly event: string; readonly resolve: () => void }[] = []
  const note = (event: string) => {
    events.push(event)
    for (const waiter of waiting.filter((w) => w.event === event)) waiter.resolve()
  }
  let durable = 0
  let tip: number | undefined
  let releaseWrite: (() => void) | undefined
  let holdWrites = false
  const steps: SequencerSteps<number, readonly number[], Staged, number> = {
    async prepare(calls) {
      return calls.flat()
    },
    async stage(calls, prepared) {
      if (options.failStage?.(prepared) === true) throw new Error('stage failed')
      const from = tip ?? durable
      tip = from + prepared.reduce((sum, item) => sum + item, 0)
      note(`stage ${from}->${tip}`)
      return { from, to: tip, calls: calls.length }
    },
    async write(staged) {
      note(`write ${staged.from}->${staged.to}`)
      if (holdWrites) await new Promise<void>((resolve) => { releaseWrite = resolve })
      if (options.failWrite?.(staged) === true) throw new Error('write failed')
      if (staged.from !== durable) throw new Error(`written on ${staged.from}, durable ${durable}`)
      durable = staged.to
      if (tip === staged.to) tip = undefined
      note(`wrote ${staged.to}`)
      return Array.from({ length: staged.calls }, () => staged.to)
    },
    discard() {
      note('discard')
      tip = undefined
    },
  }
  return {
    events,
    steps,
    durable: () => durable,
    /** Resolves once `event` has happened. */
    until: (event: string) => new Promise<void>((resolve) => {
      if (events.includes(event)) resolve()
      else waiting.push({ event, resolve })
    }),
    hold: () => { holdWrites = true },
    release: () => {
      holdWrites = false
      releaseWrite?.()
    },
  }
}

/** One turn of the event loop: the steps are in memory, so whatever the sequencer would do at once is done. */
const turn = () => new Promise((resolve) => setImmediate(resolve))
const settle = <T>(promise: Promise<T>) => promise.then((value) => ({ value }), (error: Error) => ({ error: error.message }))

describe('Sequencer', () => {
  it('stages a full batch while the write before it is in flight, and writes in order', async () => {
    const steps = counter()
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 1 })
    steps.hold()
    const first = sequencer.submit([1, 2])
    await steps.until('write 0->3')
    const second = sequencer.submit([3])
    await steps.until('stage 3->6')
    // The second batch is staged on the first one's total before the first write is done.
    expect(steps.events).toEqual(['stage 0->3', 'write 0->3', 'stage 3->6'])
    steps.release()
    // The result of a call is that of its batch's write (the total after it).
    expect(await Promise.all([first, second])).toEqual([3, 6])
    expect(steps.events.slice(3)).toEqual(['wrote 3', 'write 3->6', 'wrote 6'])
  })

  it('gathers the calls that arrive during a write into one batch, and answers a batch once the next write has started', async () => {
    const steps = counter()
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 10 })
    steps.hold()
    const answered: string[] = []
    const first = sequencer.submit([1]).then((total) => { answered.push(`${total}: ${steps.events.join(', ')}`) })
    await steps.until('write 0->1')
    const later = [[2], [3, 4]].map((items) => sequencer.submit(items))
    await turn()
    // Not staged at the first arrival: a partial batch waits for the write.
    expect(steps.events).toEqual(['stage 0->1', 'write 0->1'])
    steps.release()
    await first
    expect(answered[0]).toMatch(/^1: stage 0->1, write 0->1, wrote 1, stage 1->10, write 1->10/)
    expect(await Promise.all(later)).toEqual([10, 10])
    expect(steps.events).toEqual(['stage 0->1', 'write 0->1', 'wrote 1', 'stage 1->10', 'write 1->10', 'wrote 10'])
  })

  it.each([
    // A full batch waits, so it is staged on 5 (which never becomes durable), then again on 0.
    { maxBatchSize: 1, events: ['stage 0->5', 'write 0->5', 'stage 5->12', 'discard', 'stage 0->7', 'write 0->7', 'wrote 7'] },
    // A partial batch waits for the write, so it is staged only once, on what is durable.
    { maxBatchSize: 10, events: ['stage 0->5', 'write 0->5', 'discard', 'stage 0->7', 'write 0->7', 'wrote 7'] },
  ])('rejects the calls of a failed write and stages the next batch on what is durable (maxBatchSize $maxBatchSize)', async ({ maxBatchSize, events }) => {
    let writes = 0
    const steps = counter({ failWrite: () => ++writes === 1 })
    const sequencer = new Sequencer(steps.steps, { maxBatchSize })
    steps.hold()
    const first = settle(sequencer.submit([5]))
    await steps.until('write 0->5')
    const second = settle(sequencer.submit([7]))
    await (maxBatchSize === 1 ? steps.until('stage 5->12') : turn())
    steps.release()
    expect(await first).toEqual({ error: 'write failed' })
    expect(await second).toEqual({ value: 7 })
    expect(steps.events).toEqual(events)
    expect(steps.durable()).toBe(7)
  })

  it('rejects only the calls of a batch whose stage fails', async () => {
    const steps = counter({ failStage: (items) => items.includes(13) })
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 1 })
    const results = await Promise.all([[1], [13], [2]].map((items) => settle(sequencer.submit(items))))
    expect(results).toEqual([{ value: 1 }, { error: 'stage failed' }, { value: 3 }])
    await sequencer.drain()
    expect(steps.durable()).toBe(3)
  })

  it('keeps a call whole and batches up to maxBatchSize items', async () => {
    const steps = counter()
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 3 })
    const results = await Promise.all([[1, 1], [1, 1], [1, 1, 1, 1], [1]].map((items) => sequencer.submit(items)))
    // [1,1] | [1,1] | [1,1,1,1] alone (larger than the bound, never split) | [1]
    expect(results).toEqual([2, 4, 8, 9])
    expect(() => new Sequencer(steps.steps, { maxBatchSize: 0 })).toThrow(RangeError)
  })
})

describe('Sequencer with turns (a database other processes write)', () => {
  /** Turns that note when they begin and end; a write fails as lost when its error says so. */
  function turns(steps: ReturnType<typeof counter>, begin: () => Promise<void> = async () => undefined): SequencerTurns {
    return {
      begin: async () => {
        steps.events.push('begin')
        await begin()
      },
      end: async () => { steps.events.push('end') },
      lost: (error) => (error as Error).message === 'write failed',
      turnMs: 60_000,
      idleMs: 1,
    }
  }

  it('sequences a lost write again in a new turn, before later calls, then ends the turn when idle', async () => {
    let writes = 0
    const steps = counter({ failWrite: () => ++writes === 1 })
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 1 }, turns(steps))
    steps.hold()
    const first = sequencer.submit([5])
    await steps.until('write 0->5')
    const second = sequencer.submit([7])
    await steps.until('stage 5->12')
    steps.release()
    // The write of 5 lost: 5 and then 7 are prepared and staged again in a turn of their own.
    expect(await Promise.all([first, second])).toEqual([5, 12])
    await sequencer.drain()
    expect(steps.events).toEqual(['begin', 'stage 0->5', 'write 0->5', 'stage 5->12', 'discard', 'end', 'begin',
      'stage 0->5', 'write 0->5', 'wrote 5', 'stage 5->12', 'write 5->12', 'wrote 12', 'end'])
  })

  it('rejects the next batch when a turn cannot begin, and begins again for the calls after it', async () => {
    const steps = counter()
    let begins = 0
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 1 }, turns(steps, async () => {
      if (++begins === 1) throw new Error('database down')
    }))
    const results = await Promise.all([[1], [2]].map((items) => settle(sequencer.submit(items))))
    expect(results).toEqual([{ error: 'database down' }, { value: 2 }])
    await sequencer.drain()
    expect(steps.durable()).toBe(2)
  })

  it('betweenBatches runs a task at once when idle, and waits for the next turn when busy', async () => {
    const steps = counter()
    const sequencer = new Sequencer(steps.steps, { maxBatchSize: 1 }, turns(steps))
    await sequencer.betweenBatches(async () => { steps.events.push('task') })
    steps.hold()
    const appended = sequencer.submit([1])
    await steps.until('write 0->1')
    const waited = sequencer.betweenBatches(async () => { steps.events.push('late task') })
    steps.release()
    await Promise.all([appended, waited])
    // Run when the batches were done (no later turn began), never during a batch.
    expect(steps.events).toEqual(['task', 'begin', 'stage 0->1', 'write 0->1', 'wrote 1', 'end', 'late task'])
  })
})

import { expect, it } from 'vitest'
import { MemoryStateStore } from './monitor-state.js'
import { expectRejection } from './testing/expect.js'

it('moves the state only from the state it was given', async () => {
  const store = new MemoryStateStore()
  const first = { checkpoint: 'a', next: 1 }
  await store.compareAndSwap(undefined, first)
  await expectRejection(store.compareAndSwap(undefined, { checkpoint: 'b', next: 2 }), 'STATE_CONFLICT')
  await expectRejection(store.compareAndSwap({ checkpoint: 'a', next: 0 }, { checkpoint: 'b', next: 2 }), 'STATE_CONFLICT')
  await store.compareAndSwap({ ...first }, { checkpoint: 'b', next: 2 })
  expect(await store.load()).toEqual({ checkpoint: 'b', next: 2 })
})

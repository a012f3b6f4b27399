import { expect, it } from 'vitest'
import { RecentWrites } from './recent-writes.js'

it('answers a lookup what was written after it began, newest first, until released', () => {
  const writes = new RecentWrites<number>()
  const before = writes.ticket()
  writes.written(new Map([['a', 1]]))
  const between = writes.ticket()
  writes.written(new Map([['a', 2], ['b', 3]]))
  const after = writes.ticket()
  expect(writes.missed('a', before)).toBe(2)
  expect(writes.missed('a', between)).toBe(2)
  expect(writes.missed('b', before)).toBe(3)
  // A lookup that began after both writes read them from storage.
  expect(writes.missed('a', after)).toBeUndefined()
  writes.release(between)
  expect([...writes.entries()]).toEqual([['a', 2], ['b', 3]])
  writes.release(after)
  expect([...writes.entries()]).toEqual([])
})

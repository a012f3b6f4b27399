import { expect, it } from 'vitest'
import { AppendTimes } from './append-times.js'

it('ages the served checkpoint from the first entry it lacks, to within a second', () => {
  const times = new AppendTimes(0)
  expect(times.age('a', 0, 0, 5_000)).toBe(0)
  times.grew('a', 0, 10_000)
  times.grew('a', 5, 10_500) // within the resolution: counted from 10,000
  times.grew('a', 8, 20_000)
  expect(times.age('a', 0, 10, 30_000)).toBe(20)
  expect(times.age('a', 7, 10, 30_000)).toBe(20)
  expect(times.age('a', 8, 10, 30_000)).toBe(10)
  expect(times.age('a', 10, 10, 30_000)).toBe(0)
  // Entries from before the process started count from its start.
  expect(times.age('b', 3, 9, 30_000)).toBe(30)
})

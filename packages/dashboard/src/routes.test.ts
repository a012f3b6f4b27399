import { describe, expect, it } from 'vitest'
import { route } from './routes.js'

describe('route', () => {
  it('names the page and its arguments', () => {
    expect(route('')).toMatchObject({ name: 'overview', args: [] })
    expect(route('#/')).toMatchObject({ name: 'overview' })
    expect(route('#/logs/audit/entries/12')).toMatchObject({ name: 'entry', args: ['audit', '12'] })
    expect(route('#/logs/a%20b/tail')).toMatchObject({ name: 'tail', args: ['a b'] })
    const search = route('#/logs/access/search?sub=alice&status=4xx')!
    expect(search.name).toBe('search')
    expect([...search.params]).toEqual([['sub', 'alice'], ['status', '4xx']])
  })

  it('leaves in-page anchors alone and calls anything else unknown', () => {
    expect(route('#main')).toBeUndefined()
    expect(route('#/logs/audit/entries/../../x')).toMatchObject({ name: 'unknown' })
    expect(route('#/logs/%E0%A4%A/tail')).toMatchObject({ name: 'unknown' })
  })
})

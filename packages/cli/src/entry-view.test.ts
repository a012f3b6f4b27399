import { describe, expect, it } from 'vitest'
import { abbreviate } from './entry-view.js'

describe('abbreviate', () => {
  const id = 'abcdef0123456789'.repeat(4)

  it('takes 7 hex digits when they are unique, more while they are not', async () => {
    expect(await abbreviate(id, async () => true)).toBe('abcdef0')
    expect(await abbreviate(id, async (prefix) => prefix.length >= 9)).toBe('abcdef012')
    expect(await abbreviate(id, async () => false)).toBe(id)
  })

  it('never gives digits only under 16, which would name an index', async () => {
    const digits = `${'1234567890123456'}${'a'.repeat(48)}`
    expect(await abbreviate(digits, async () => true)).toBe('1234567890123456')
    const late = `12345678${'b'.repeat(56)}`
    expect(await abbreviate(late, async () => true)).toBe('12345678b')
  })
})

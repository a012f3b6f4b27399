import { describe, expect, it } from 'vitest'
import { main } from './main.js'

describe('annal demo', () => {
  it('signs a checkpoint and verifies its proofs', async () => {
    const lines: string[] = []
    expect(await main(['demo'], (line) => lines.push(line))).toBe(0)
    const output = lines.join('\n')
    expect(output).toMatch(/demo\.annal\.example\/audit\n5\n[A-Za-z0-9+/]{43}=\n\n— demo\.annal\.example\/audit [A-Za-z0-9+/]+=*\n/)
    expect(output).toContain('verified: entry 1 is in the tree of size 5')
    expect(output).not.toContain('PRIVATE+KEY')
  })

  it('exits 2 with one sentence for an unknown command', async () => {
    expect(await main(['frobnicate'], () => undefined)).toBe(2)
  })
})

import { readFileSync, readdirSync } from 'node:fs'
import { expect, it } from 'vitest'

// The package runs in browsers: its sources (tests, test helpers and the @annal/client/node
// subpath in node/ aside) use Web APIs only, and never import node/.
it('imports no node: module and uses no Buffer', () => {
  const dir = new URL('./', import.meta.url)
  const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('testing') && !file.startsWith('node'))
  expect(sources).toContain('index.ts')
  for (const file of sources) {
    const text = readFileSync(new URL(file, dir), 'utf8')
    expect(text, file).not.toMatch(/from '(?:node:|fs|path|crypto|buffer)/)
    expect(text, file).not.toMatch(/\bBuffer\b/)
    expect(text, file).not.toMatch(/from '\.\.?\/node\//)
  }
})

import { describe, expect, it } from 'vitest'
import { extractBlocks } from './doc-blocks.js'

describe('extractBlocks', () => {
  it('finds each fenced block with its line, language and the reason it is not run', () => {
    const markdown = [
      '# Title', '', '```sh', 'annal init', '```', '',
      '<!-- not run: serves until stopped -->', '```bash', 'annal serve --dev', '```',
      '```', 'a diagram', '```',
      '```console', '$ annal logs', 'main  0  ...', '```',
      '```typescript title="x"', 'const x = 1', '```', '',
    ].join('\n')
    expect(extractBlocks(markdown)).toEqual([
      { line: 3, info: 'sh', kind: 'sh', code: 'annal init\n', notRun: undefined },
      { line: 8, info: 'bash', kind: 'sh', code: 'annal serve --dev\n', notRun: 'serves until stopped' },
      { line: 11, info: '', kind: undefined, code: 'a diagram\n', notRun: undefined },
      { line: 14, info: 'console', kind: 'sh', code: 'annal logs\n', notRun: undefined },
      { line: 18, info: 'typescript', kind: 'ts', code: 'const x = 1\n', notRun: undefined },
    ])
  })

  it('takes a not-run comment only on the line right before the fence', () => {
    expect(extractBlocks('<!-- not run: why -->\n\n```sh\nls\n```\n')[0]!.notRun).toBeUndefined()
  })

  it('refuses a fence that is never closed', () => {
    expect(() => extractBlocks('text\n```ts\nconst x = 1\n')).toThrow('the fence on line 2 is never closed')
  })
})

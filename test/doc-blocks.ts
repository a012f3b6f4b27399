/** A fenced code block of a Markdown file. */
export interface DocBlock {
  /** The line of its opening fence, from 1. */
  readonly line: number
  /** The first word of its info string; '' when it has none. */
  readonly info: string
  /** How it runs: 'ts' for TypeScript and JavaScript, 'sh' for shell, undefined when it does not. */
  readonly kind: 'ts' | 'sh' | undefined
  readonly code: string
  /** Why it is not run, from an `<!-- not run: why -->` comment on the line right before it. */
  readonly notRun: string | undefined
}

const KINDS: Readonly<Record<string, 'ts' | 'sh'>> = {
  ts: 'ts', typescript: 'ts', js: 'ts', javascript: 'ts',
  sh: 'sh', bash: 'sh', shell: 'sh', console: 'sh',
}

const NOT_RUN = /^<!-- not run: (\S.*?) -->$/

/** The fenced (```) blocks of `markdown`, in order. Throws Error on a fence that is never closed. */
export function extractBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n')
  const blocks: DocBlock[] = []
  for (let start = 0; start < lines.length; start++) {
    const open = /^```\s*(\S*)/.exec(lines[start]!)
    if (!open) continue
    const end = lines.findIndex((line, index) => index > start && /^```\s*$/.test(line))
    if (end === -1) throw new Error(`the fence on line ${start + 1} is never closed`)
    const info = open[1]!
    const body = lines.slice(start + 1, end)
    blocks.push({
      line: start + 1,
      info,
      kind: KINDS[info],
      // A console block shows a session: its commands are the lines after a `$ ` prompt.
      code: (info === 'console' ? body.filter((line) => line.startsWith('$ ')).map((line) => line.slice(2)) : body).join('\n') + '\n',
      notRun: NOT_RUN.exec(lines[start - 1] ?? '')?.[1],
    })
    start = end
  }
  return blocks
}

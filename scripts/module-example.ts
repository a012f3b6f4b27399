import { randomUUID } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'

/**
 * Runs the `@example` of the module doc that opens a package's `index.ts`, as a user would
 * paste it: written beside the file, so that its imports of the package resolve, imported, and
 * removed. An example shows it worked by not throwing.
 * @throws Error when the file has no module doc with an example, or what the example throws.
 */
export async function runModuleExample(index: URL): Promise<void> {
  const source = await readFile(index, 'utf8')
  const doc = /^\/\*\*\n([\s\S]*?)\*\//.exec(source)?.[1]
  if (doc === undefined || !doc.includes(' * @module\n')) throw new Error(`${index.pathname} opens with no @module doc`)
  const example = doc.split(' * @example\n')[1]
  if (example === undefined) throw new Error(`${index.pathname}'s module doc has no @example`)
  const code = example.split('\n').map((line) => line.replace(/^ \*( |$)/, '')).join('\n')
  const file = new URL(`./.module-example-${randomUUID()}.ts`, index)
  await writeFile(file, code)
  try {
    await import(file.href)
  } finally {
    await rm(file, { force: true })
  }
}

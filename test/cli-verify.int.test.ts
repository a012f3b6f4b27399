// The end-to-end flow through the `annal` bin as a real process: init, append a file,
// log, show by prefix, proof, verify offline, with one byte changed at a time in the proof or
// the entry.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { annalBin } from './process.js'

const exec = promisify(execFile)
const events = Array.from({ length: 5 }, (_, i) => JSON.stringify({ actor: `user-${i}`, action: 'login' }))
let dir: string

/** Runs `annal ...` in the ledger's directory: its exit code, stdout and stderr. */
async function annal(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [annalBin, ...args], { cwd: dir })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string }
    return { code, stdout, stderr }
  }
}

/** Runs `annal ...` and expects it to succeed. */
async function done(...args: string[]): Promise<string> {
  const result = await annal(...args)
  expect(result.code, `annal ${args.join(' ')}: ${result.stderr}`).toBe(0)
  return result.stdout
}

async function appendEvents(more: readonly string[]): Promise<void> {
  await writeFile(join(dir, 'events.ndjson'), more.map((event) => `${event}\n`).join(''))
  await done('append', 'events.ndjson')
}

let entryId: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'annal-cli-verify-'))
  const verifierKey = /verifier key: (\S+)/.exec(await done('init', '--origin', 'annal.test/main'))![1]!
  await appendEvents(events.slice(0, 4))
  await writeFile(join(dir, 'policy.txt'), `# the log, and no witnesses\nlog ${verifierKey}\nquorum none\n`)
  // Entry 2 found the way a user finds it: in `annal log`, then shown by its abbreviated id.
  const line = (await done('log', '--oneline')).split('\n').find((row) => row.includes('user-2'))!
  const prefix = line.split(' ')[0]!
  expect(prefix).toMatch(/^[0-9a-f]{7,}$/)
  entryId = JSON.parse(await done('show', prefix, '--json')).id as string
  expect(entryId.startsWith(prefix)).toBe(true)
  await writeFile(join(dir, 'entry.leaf'), (await exec(process.execPath, [annalBin, 'show', prefix, '--leaf'],
    { cwd: dir, encoding: 'buffer' })).stdout)
})

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** `text` with the character at `at` replaced by another of the same kind (digit, base64, letter). */
function changed(text: string, at: number): string {
  const old = text[at]!
  const next = /[0-9]/.test(old) ? String((Number(old) + 1) % 10) : old === 'A' ? 'B' : 'A'
  return text.slice(0, at) + next + text.slice(at + 1)
}

describe('annal proof, then annal verify offline', () => {
  let proof: string

  beforeAll(async () => {
    const written = await annal('proof', entryId.slice(0, 16))
    expect(written.code, written.stderr).toBe(0)
    proof = written.stdout
    await writeFile(join(dir, 'entry.tlog-proof'), proof)
  })

  it('verifies the proof as written, and says what it verified', async () => {
    const { code, stdout } = await annal('verify', 'entry.leaf', 'entry.tlog-proof', '--policy', 'policy.txt')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^verified: entry 2 \([0-9a-f]{12}\) is in annal\.test\/main at tree size 4\ncosigned by: no witness/)
  })

  /** Where in the proof's lines a byte is changed: line and column, counted from the checkpoint's first line or its signature line. */
  type Place = (lines: { readonly note: number; readonly signature: number }) => readonly [number, number]
  const places: readonly (readonly [string, Place, string])[] = [
    ['the header', () => [0, 0], 'PROOF_MALFORMED'],
    ['the index', () => [1, 'index '.length], 'INCLUSION_FAILED'],
    ['a hash', () => [2, 0], 'INCLUSION_FAILED'],
    ["the checkpoint's origin", ({ note }) => [note, 0], 'LOG_UNKNOWN'],
    ["the checkpoint's size", ({ note }) => [note + 1, 0], 'SIGNATURE_INVALID'],
    ["the checkpoint's root", ({ note }) => [note + 2, 5], 'SIGNATURE_INVALID'],
    ['the signature', ({ signature }) => [signature, '— annal.test/main '.length + 40], 'SIGNATURE_INVALID'],
  ]

  it.each(places)('refuses the proof with a byte of %s changed', async (_where, place, code) => {
    const lines = proof.split('\n')
    const note = lines.indexOf('') + 1
    const signature = lines.findIndex((line) => line.startsWith('— annal.test/main '))
    expect([lines[note], lines[signature + 1]]).toEqual(['annal.test/main', ''])
    const [line, column] = place({ note, signature })
    const at = lines.slice(0, line).reduce((sum, text) => sum + text.length + 1, 0) + column
    await writeFile(join(dir, 'altered.tlog-proof'), changed(proof, at))
    const result = await annal('verify', 'entry.leaf', 'altered.tlog-proof', '--policy', 'policy.txt')
    expect([result.code, result.stdout]).toEqual([1, ''])
    expect(result.stderr).toMatch(new RegExp(`^annal: not verified: .*\\(${code}\\)[^\\n]*\\n$`))
  })

  it('refuses the entry with any one byte changed', async () => {
    const entry = await readFile(join(dir, 'entry.leaf'), 'utf8')
    // The first byte, the object hash the envelope names, and the last byte.
    for (const at of [0, entry.indexOf('sha256:') + 10, entry.length - 1]) {
      await writeFile(join(dir, 'altered.leaf'), changed(entry, at))
      const result = await annal('verify', 'altered.leaf', 'entry.tlog-proof', '--policy', 'policy.txt')
      expect([result.code, result.stderr]).toEqual([1, expect.stringMatching(/^annal: not verified: entry 2 is not proven .*\(INCLUSION_FAILED\)/)])
    }
  })

  it('exits 2 for a policy that does not parse, naming its line', async () => {
    await writeFile(join(dir, 'broken.txt'), '# no log line\nquorum nobody\n')
    const result = await annal('verify', 'entry.leaf', 'entry.tlog-proof', '--policy', 'broken.txt')
    expect([result.code, result.stderr]).toEqual([2, 'annal: broken.txt line 2: "nobody" is not defined on an earlier line; fix that line of the policy.\n'])
  })
})

describe('annal consistency, chained', () => {
  it('prints the current checkpoint, which the next run takes as the old one', async () => {
    const proof = await readFile(join(dir, 'entry.tlog-proof'), 'utf8')
    await writeFile(join(dir, 'old.checkpoint'), proof.slice(proof.indexOf('\n\n') + 2))
    await appendEvents(events.slice(4))
    const first = await annal('consistency', 'old.checkpoint')
    expect([first.code, first.stderr]).toEqual([0, 'consistent: the log at size 5 extends the checkpoint of size 4\n'])
    expect(first.stdout).toMatch(/^annal\.test\/main\n5\n/)
    await writeFile(join(dir, 'new.checkpoint'), first.stdout)
    const second = await annal('consistency', 'new.checkpoint', '--policy', 'policy.txt')
    expect([second.code, second.stdout]).toEqual([0, first.stdout])
    expect((await annal('fsck')).code).toBe(0)
  })
})

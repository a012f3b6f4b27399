import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { Ledger } from '@annal/store'
import { bytesToHex, defaultHasher } from '@annal/tlog'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryIo } from '../io.js'
import { main } from '../main.js'
import { serveCommand } from '../serve.js'
import { testLedger, type TestLedger } from '../testing/ledger.js'

const events = Array.from({ length: 6 }, (_, i) => `{"event":${i}}`)
let t: TestLedger

beforeAll(async () => {
  t = await testLedger(events)
  await writeFile(join(t.cwd, 'policy.txt'), `log ${t.verifierKey}\nquorum none\n`)
  await writeFile(join(t.cwd, 'entry-3.leaf'), t.entries[3]!)
  const proof = await run(['proof', '3'])
  expect(proof.code, proof.stderr).toBe(0)
  await writeFile(join(t.cwd, 'entry-3.tlog-proof'), proof.stdout)
})

afterAll(async () => {
  await t?.remove()
})

async function run(args: readonly string[], options: { readonly input?: string; readonly cwd?: string } = {}) {
  const io = memoryIo({ cwd: t.cwd, ...options })
  const code = await main(args, io)
  return { code, stdout: io.stdout, stderr: io.stderr }
}

/** Runs `args`, expects exit code `code` and one line on stderr matching `reason`. */
async function expectRefused(args: readonly string[], code: 1 | 2, reason: RegExp): Promise<string> {
  const { code: exit, stderr } = await run(args)
  expect(stderr.trimEnd()).toMatch(reason)
  expect(stderr.trim().split('\n'), stderr).toHaveLength(1)
  expect(exit, stderr).toBe(code)
  return stderr
}

const id = (i: number) => bytesToHex(defaultHasher.leaf(t.entries[i]!))

describe('annal proof', () => {
  it('writes one tlog-proof for an index, an id or an abbreviated id', async () => {
    const proofs = []
    for (const ref of ['3', id(3), id(3).slice(0, 8), id(3).slice(0, 8).toUpperCase()]) proofs.push(await run(['proof', ref]))
    for (const proof of proofs) expect(proof).toEqual(proofs[0])
    expect(proofs[0]!.stdout).toMatch(/^c2sp\.org\/tlog-proof@v1\nindex 3\n(?:[A-Za-z0-9+/]{43}=\n)+\nannal\.test\/main\n6\n/)
  })

  it('verifies the proof before writing it when given a policy', async () => {
    expect((await run(['proof', '3', '--policy', 'policy.txt'])).code).toBe(0)
    const stranger = generateKeyPair('annal.test/main').verifierKey
    await expectRefused(['proof', '3', '--key', stranger], 1, /does not verify.*\(SIGNATURE_INVALID\)\.$/)
  })

  it('refuses what names no entry, no log or no ledger', async () => {
    await expectRefused(['proof', 'xyz'], 2, /"xyz" names no entry: give an index, an id or at least 4 hex digits/)
    await expectRefused(['proof', '6'], 1, /SIZE_OUT_OF_RANGE/)
    await expectRefused(['proof', 'ffffffffff'], 1, /ENTRY_NOT_FOUND/)
    await expectRefused(['proof', '3', '--log', 'nope'], 1, /LOG_NOT_FOUND/)
    await expectRefused(['proof', '3', '--url', 'http://127.0.0.1:9'], 2, /verified before it is written: pass --policy FILE or --key VKEY/)
    const elsewhere = await mkdtemp(join(tmpdir(), 'annal-cli-empty-'))
    try {
      const { code, stderr } = await run(['proof', '3'], { cwd: elsewhere })
      expect([code, stderr]).toEqual([2, expect.stringMatching(/no \.annal here or in a parent directory/)])
    } finally {
      await rm(elsewhere, { recursive: true, force: true })
    }
  })
})

describe('annal verify', () => {
  it('exits 0 and says what it verified', async () => {
    for (const trust of [['--policy', 'policy.txt'], ['--key', t.verifierKey]]) {
      const { code, stdout } = await run(['verify', 'entry-3.leaf', 'entry-3.tlog-proof', ...trust])
      expect(code).toBe(0)
      expect(stdout).toBe(`verified: entry 3 (${id(3).slice(0, 12)}) is in annal.test/main at tree size 6\n`
        + 'cosigned by: no witness (the policy asks for none)\n')
    }
    const json = await run(['verify', 'entry-3.leaf', 'entry-3.tlog-proof', '--key', t.verifierKey, '--json'])
    expect(JSON.parse(json.stdout)).toEqual({ verified: true, origin: 'annal.test/main', index: 3, tree_size: 6, id: id(3), witnesses: [] })
  })

  it('reads the entry or the proof from stdin', async () => {
    expect((await run(['verify', '-', 'entry-3.tlog-proof', '--key', t.verifierKey], { input: events[3] })).code).toBe(0)
  })

  it('exits 1 with the reason when it does not verify', async () => {
    const proof = (await run(['proof', '3'])).stdout
    const variants: Record<string, string> = {
      'index.tlog-proof': proof.replace('\nindex 3\n', '\nindex 2\n'),
      'header.tlog-proof': proof.replace('tlog-proof@v1', 'tlog-proof@v2'),
      'size.tlog-proof': proof.replace('\n6\n', '\n7\n'),
    }
    for (const [name, text] of Object.entries(variants)) await writeFile(join(t.cwd, name), text)
    const verify = (entry: string, proofFile: string, ...trust: string[]) =>
      ['verify', entry, proofFile, ...(trust.length === 0 ? ['--policy', 'policy.txt'] : trust)]
    await expectRefused(verify('entry-3.leaf', 'index.tlog-proof'), 1, /^annal: not verified: entry 2 is not proven .*\(INCLUSION_FAILED\); the entry file must hold the leaf bytes/)
    await expectRefused(verify('entry-3.leaf', 'header.tlog-proof'), 1, /^annal: not verified: line 1: .*\(PROOF_MALFORMED\)\.$/)
    await expectRefused(verify('entry-3.leaf', 'size.tlog-proof'), 1, /\(SIGNATURE_INVALID\)\.$/)
    await expectRefused(verify('policy.txt', 'entry-3.tlog-proof'), 1, /\(INCLUSION_FAILED\)/)
    await expectRefused(verify('entry-3.leaf', 'entry-3.tlog-proof', '--key', generateKeyPair('annal.test/main').verifierKey), 1, /\(SIGNATURE_INVALID\)\.$/)
    await expectRefused(verify('entry-3.leaf', 'entry-3.tlog-proof', '--key', generateKeyPair('elsewhere.test/main').verifierKey), 1,
      /no log of the policy has the origin "annal\.test\/main" \(LOG_UNKNOWN\)\.$/)
    const witness = generateKeyPair('w.example', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
    await writeFile(join(t.cwd, 'witnessed.txt'), `log ${t.verifierKey}\nwitness w ${witness}\nquorum w\n`)
    await expectRefused(verify('entry-3.leaf', 'entry-3.tlog-proof', '--policy', 'witnessed.txt'), 1, /cosigned by no witness \(QUORUM_UNMET\)\.$/)
  })

  it('prints the failure as JSON with --json', async () => {
    const { code, stdout } = await run(['verify', 'policy.txt', 'entry-3.tlog-proof', '--key', t.verifierKey, '--json'])
    expect(code).toBe(1)
    expect(JSON.parse(stdout)).toMatchObject({ verified: false, code: 'INCLUSION_FAILED' })
  })

  it('exits 2 for a command line to fix: no policy, missing files, a policy that does not parse', async () => {
    await writeFile(join(t.cwd, 'broken-policy.txt'), `log ${t.verifierKey}\nwitness w not-a-key\nquorum none\n`)
    const files = ['entry-3.leaf', 'entry-3.tlog-proof']
    await expectRefused(['verify', ...files], 2, /verifying needs what to trust: pass --policy FILE or --key VKEY/)
    await expectRefused(['verify', ...files, '--policy', 'policy.txt', '--key', t.verifierKey], 2, /pass --policy or --key, not both/)
    await expectRefused(['verify', 'missing.leaf', files[1]!, '--policy', 'policy.txt'], 2, /cannot read the entry file missing\.leaf \(ENOENT\)/)
    await expectRefused(['verify', files[0]!, 'missing.tlog-proof', '--policy', 'policy.txt'], 2, /cannot read the proof file missing\.tlog-proof/)
    await expectRefused(['verify', ...files, '--policy', 'missing.txt'], 2, /cannot read the policy missing\.txt/)
    await expectRefused(['verify', ...files, '--policy', 'broken-policy.txt'], 2, /broken-policy\.txt line 2: the witness key is not a valid vkey; fix that line/)
    await expectRefused(['verify', ...files, '--key', 'nonsense'], 2, /--key must be a log verifier key/)
    await expectRefused(['verify', ...files, '--key', `${t.verifierKey}\nwitness w x`], 2, /--key must be a log verifier key/)
    await expectRefused(['verify', '-', '-', '--key', t.verifierKey], 2, /only one of the entry and the proof can come from stdin/)
    await expectRefused(['verify', files[0]!], 2, /missing required argument 'proof-file'/)
  })
})

/** The checkpoint the local log issued at `size`. */
async function checkpointAt(data: string, size: number): Promise<string> {
  const ledger = await Ledger.open(data)
  try {
    return await ledger.log('main').checkpoint(size)
  } finally {
    await ledger.close()
  }
}

describe('annal consistency', () => {
  let fork: string

  // A second ledger whose log main is signed with the same key: the same origin, another tree.
  beforeAll(async () => {
    fork = await mkdtemp(join(tmpdir(), 'annal-cli-fork-'))
    const created = await Ledger.open(fork, { originPrefix: 'annal.test' })
    await created.createLog('main')
    await created.close()
    await copyFile(join(t.data, 'keys', 'main.key'), join(fork, 'keys', 'main.key'))
    const ledger = await Ledger.open(fork, { originPrefix: 'annal.test' })
    for (let i = 0; i < 8; i++) await ledger.log('main').append([new TextEncoder().encode(`fork ${i}`)])
    await ledger.close()
    await mkdir(join(t.cwd, 'checkpoints'), { recursive: true })
    const notes = { old: await checkpointAt(t.data, 3), latest: await checkpointAt(t.data, 6),
      'fork-3': await checkpointAt(fork, 3), 'fork-4': await checkpointAt(fork, 4), 'fork-6': await checkpointAt(fork, 6), 'fork-8': await checkpointAt(fork, 8) }
    for (const [name, note] of Object.entries(notes)) await writeFile(join(t.cwd, 'checkpoints', name), note)
  })

  afterAll(async () => {
    if (fork !== undefined) await rm(fork, { recursive: true, force: true })
  })

  it('prints the current checkpoint when the log extends the old one', async () => {
    const latest = await checkpointAt(t.data, 6)
    for (const trust of [[], ['--key', t.verifierKey], ['--policy', 'policy.txt']]) {
      const { code, stdout, stderr } = await run(['consistency', 'checkpoints/old', ...trust])
      expect([code, stdout, stderr]).toEqual([0, latest, 'consistent: the log at size 6 extends the checkpoint of size 3\n'])
    }
    expect((await run(['consistency', 'checkpoints/latest'])).stdout).toBe(latest)
    const json = await run(['consistency', '-', '--json'], { input: await checkpointAt(t.data, 3) })
    expect(JSON.parse(json.stdout)).toEqual({ consistent: true, old_size: 3, size: 6, checkpoint: latest })
  })

  it('prints the evidence when the log key signed a fork', async () => {
    // From 4, a power of two, the proof alone shows no other tree: the root at 4 comes from the tiles.
    for (const [old, proof] of [['fork-3', /proof of misbehavior:\n(\t[A-Za-z0-9+/]{43}=\n)+/],
      ['fork-4', /proof of misbehavior:\n(\t[A-Za-z0-9+/]{43}=\n){2,}/], ['fork-6', /proof of misbehavior:\n\t[A-Za-z0-9+/]{43}=\n(?!\t)/]] as const) {
      const { code, stdout, stderr } = await run(['consistency', `checkpoints/${old}`])
      expect([code, stdout]).toEqual([1, ''])
      expect(stderr).toMatch(/^SECURITY ERROR\nThis log has misbehaved: .*\n\nold:\n\tannal\.test\/main\n/)
      expect(stderr).toContain(`old:\n\t${(await checkpointAt(fork, Number(old.slice(5)))).trimEnd().replaceAll('\n', '\n\t')}\n`)
      expect(stderr).toContain(`new:\n\t${(await checkpointAt(t.data, 6)).trimEnd().replaceAll('\n', '\n\t')}\n`)
      expect(stderr).toMatch(proof)
      expect(stderr).toMatch(/\nannal: the log.*\(SPLIT_VIEW\)\.\n$/)
    }
  })

  it('exits 1 when the log does not extend the old checkpoint, or the old one does not verify', async () => {
    await expectRefused(['consistency', 'checkpoints/fork-8'], 1, /size 6, below the trusted size 8 \(CONSISTENCY_FAILED\)\.$/)
    await expectRefused(['consistency', 'checkpoints/old', '--key', generateKeyPair('annal.test/main').verifierKey], 1,
      /^annal: checkpoints\/old does not verify against the policy: .*\(SIGNATURE_INVALID\)\.$/)
    await expectRefused(['consistency', 'policy.txt'], 1, /^annal: policy\.txt does not verify against the policy: .*\(CHECKPOINT_MALFORMED\)\.$/)
  })

  it('exits 2 for a command line to fix', async () => {
    await expectRefused(['consistency', 'checkpoints/missing'], 2, /cannot read the old checkpoint checkpoints\/missing \(ENOENT\)/)
    await expectRefused(['consistency', 'checkpoints/old', '--url', 'http://127.0.0.1:9'], 2, /a server's checkpoint is verified against a policy: pass --policy FILE or --key VKEY/)
  })
})

describe('annal proof and consistency through a server', () => {
  let served: TestLedger
  let banner: string[]
  let stop: () => void
  let stopped: Promise<number>
  let local: { proof: string; byId: string; checkpoint: string; old: string }

  // The local answers first: a running server holds the ledger's database.
  beforeAll(async () => {
    served = await testLedger(events)
    const at = (args: string[]) => run([...args, '--data', served.data]).then((result) => result.stdout)
    const ref = bytesToHex(defaultHasher.leaf(served.entries[4]!)).slice(0, 10)
    local = { proof: await at(['proof', '4']), byId: await at(['proof', ref]), checkpoint: await checkpointAt(served.data, 6),
      old: await checkpointAt(served.data, 2) }
    await writeFile(join(t.cwd, 'served-old'), local.old)
    banner = []
    let ready: () => void
    const listening = new Promise<void>((resolve) => (ready = resolve))
    stopped = serveCommand(['--dev', '--data', served.data, '--port', '0'], (line) => {
      banner.push(line)
      if (line.includes('/proof/inclusion?index=0')) ready()
    }, new Promise<void>((resolve) => (stop = resolve)))
    await Promise.race([listening, stopped])
  })

  afterAll(async () => {
    stop?.()
    await stopped
    await served?.remove()
  })

  const url = () => /serving .* on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner.join('\n'))![1]!
  const reader = () => /reader +\([^)]*\), valid 24 h:\n {2}(\S+)/.exec(banner.join('\n'))![1]!

  it('writes the same bytes as the local ledger, verified against the policy', async () => {
    const remote = await run(['proof', '4', '--url', url(), '--key', served.verifierKey])
    expect([remote.code, remote.stderr]).toEqual([0, ''])
    expect(remote.stdout).toBe(local.proof)
    const ref = bytesToHex(defaultHasher.leaf(served.entries[4]!)).slice(0, 10)
    const io = memoryIo({ cwd: t.cwd, env: { ANNAL_TOKEN: reader() } })
    expect(await main(['proof', ref, '--url', url(), '--key', served.verifierKey], io)).toBe(0)
    expect(io.stdout).toBe(local.byId)
  })

  it('proves the server consistent with an old checkpoint', async () => {
    const { code, stdout } = await run(['consistency', 'served-old', '--url', `${url()}/v1/logs/main`, '--key', served.verifierKey])
    expect([code, stdout]).toEqual([0, local.checkpoint])
  })

  it('refuses a server the policy does not vouch for, and says when it cannot reach one', async () => {
    const stranger = generateKeyPair('annal.test/main').verifierKey
    await expectRefused(['proof', '4', '--url', url(), '--key', stranger], 1, /\(SIGNATURE_INVALID\)\.$/)
    await expectRefused(['consistency', 'served-old', '--url', url(), '--key', stranger], 1, /served-old does not verify.*\(SIGNATURE_INVALID\)\.$/)
    await expectRefused(['proof', '4', '--url', 'http://127.0.0.1:9', '--key', served.verifierKey], 1,
      /^annal: cannot reach http:\/\/127\.0\.0\.1:9: .+; check --url or ANNAL_URL\.$/)
  })
})

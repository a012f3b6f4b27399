import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatAddCheckpoint, generateKeyPair, parseSignerKey, signCheckpoint } from '@annal/note'
import { MemoryTree, defaultHasher } from '@annal/tlog'
import { originHash } from '@annal/witness'
import { afterEach, describe, expect, it } from 'vitest'
import { startAnnal as start } from './process.js'

const directories: string[] = []

afterEach(async () => {
  await Promise.all(directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })))
})


describe('annal witness serve, as a real process', () => {
  it('serves on loopback with a 0600 key and stops cleanly on SIGTERM', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    directories.push(data)
    const log = generateKeyPair('log.example/audit')
    const witness = start(['witness', 'serve', '--data', data, '--name', 'witness.example/w1', '--log', log.verifierKey,
      '--listen', '127.0.0.1:0'], /listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const url = (await witness.matched)[1]!
    const response = await fetch(`${url}/v1/witness`)
    expect(response.status).toBe(200)
    const body = await response.json() as { name: string; verifier_key: string }
    expect(body.name).toBe('witness.example/w1')
    expect(witness.output().stdout).toContain(`verifier key: ${body.verifier_key}`)
    expect((await stat(join(data, 'witness.key'))).mode & 0o777).toBe(0o600)
    witness.child.kill('SIGTERM')
    expect(await witness.exited).toBe(0)
  })

  it('refuses an incomplete command line with one sentence and exit code 2', async () => {
    const run = start(['witness', 'serve', '--name', 'w'], /$^/)
    run.matched.catch(() => undefined)
    expect(await run.exited).toBe(2)
    expect(run.output().stderr.trim().split('\n')).toEqual(['annal: witness serve needs --data, --name and at least one --log.'])
  })

  it('gossips with a peer given by --peer and serves operator routes on --admin', async () => {
    const keys = generateKeyPair('log.example/audit')
    // Two trees of one size with different roots, both signed by the log: a split view.
    const checkpoint = (label: string): string => {
      const tree = new MemoryTree()
      tree.appendMany(Array.from({ length: 5 }, (_, i) => defaultHasher.leaf(new TextEncoder().encode(`${label} ${i}`))))
      const signer = parseSignerKey(keys.signerKey)
      return signCheckpoint({ origin: 'log.example/audit', size: 5, rootHash: tree.root(5), extensions: [] }, signer)
    }
    const shownToA = checkpoint('main')
    const dataA = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    const dataB = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    directories.push(dataA, dataB)
    const a = start(['witness', 'serve', '--data', dataA, '--name', 'witness.example/a', '--log', keys.verifierKey],
      /listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const urlA = (await a.matched)[1]!
    const add = (url: string, note: string) => fetch(`${url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint(0, [], note) })
    expect((await add(urlA, shownToA)).status).toBe(200)
    const b = start(['witness', 'serve', '--data', dataB, '--name', 'witness.example/b', '--log', keys.verifierKey,
      '--peer', urlA, '--admin', '127.0.0.1:0'],
    /listening on (http:\/\/127\.0\.0\.1:\d+)\n[\s\S]*operator routes on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const [, urlB, adminB] = (await b.matched) as unknown as [string, string, string]
    // B learns shownToA only by pulling it from A; shown the other tree, it holds the pair as
    // evidence, whether its pull came before this request or after.
    await add(urlB, checkpoint('fork'))
    const evidenceAtB = async () => {
      const body = await (await fetch(`${urlB}/v1/evidence`)).json() as { evidence: { checkpoints: { note: string }[] }[] }
      return body.evidence
    }
    for (const started = Date.now(); (await evidenceAtB()).length === 0;) {
      if (Date.now() - started > 20_000) throw new Error('B holds no evidence: it did not pull from A')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // As A serves it: with A's cosignature after the log's signature.
    expect((await evidenceAtB())[0]!.checkpoints.some((c) => c.note.startsWith(shownToA))).toBe(true)

    // The operator's route clears it on --admin only: on the public listener there is no such route.
    const evidenceUrl = (base: string) => `${base}/v1/evidence/${originHash('log.example/audit')}`
    const onPublic = await fetch(evidenceUrl(urlB), { method: 'DELETE' })
    expect([onPublic.status, ((await onPublic.json()) as { code: string }).code]).toEqual([404, 'ROUTE_NOT_FOUND'])
    expect(await evidenceAtB()).toHaveLength(1)
    expect((await fetch(evidenceUrl(adminB), { method: 'DELETE' })).status).toBe(204)
    expect(await evidenceAtB()).toEqual([])
    a.child.kill('SIGTERM')
    b.child.kill('SIGTERM')
    expect([await a.exited, await b.exited]).toEqual([0, 0])
  })

  it('takes its settings from --config, and refuses a config of the wrong shape', async () => {
    const data = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    directories.push(data)
    const log = generateKeyPair('log.example/audit')
    const config = join(data, 'witness.json')
    await writeFile(config, JSON.stringify({ data: join(data, 'state'), name: 'witness.example/c', logs: [log.verifierKey] }))
    const witness = start(['witness', 'serve', '--config', config], /listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const url = (await witness.matched)[1]!
    expect(await (await fetch(`${url}/v1/witness`)).json()).toMatchObject({ name: 'witness.example/c' })
    witness.child.kill('SIGTERM')
    expect(await witness.exited).toBe(0)

    await writeFile(config, JSON.stringify({ data, name: 'w', logs: log.verifierKey }))
    const bad = start(['witness', 'serve', '--config', config], /$^/)
    expect(await bad.exited).toBe(2)
    expect(bad.output().stderr.trim()).toBe('annal: logs in the config file must be a list of strings.')
  })
})


import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@annal/note'
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
    const log = generateKeyPair('log.example/audit')
    const dataA = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    const dataB = await mkdtemp(join(tmpdir(), 'annal-witness-cli-'))
    directories.push(dataA, dataB)
    const a = start(['witness', 'serve', '--data', dataA, '--name', 'witness.example/a', '--log', log.verifierKey],
      /listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const urlA = (await a.matched)[1]!
    const b = start(['witness', 'serve', '--data', dataB, '--name', 'witness.example/b', '--log', log.verifierKey,
      '--peer', urlA, '--admin', '127.0.0.1:0'], /operator routes on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const adminB = (await b.matched)[1]!
    expect((await fetch(`${adminB}/v1/evidence/${'0'.repeat(64)}`, { method: 'DELETE' })).status).toBe(404)
    expect((await fetch(`${urlA}/v1/gossip`)).status).toBe(200)
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


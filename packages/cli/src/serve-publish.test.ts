import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UsageError } from './failure.js'
import { memoryIo } from './io.js'
import { main } from './main.js'
import { openBucket, publishSettings } from './serve-publish.js'

let tmp: string
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'annal-cli-publish-'))
})
afterEach(async () => rm(tmp, { recursive: true, force: true }))

/** The UsageError message `publishSettings` rejects with for these settings. */
async function refusal(values: Record<string, string | boolean>, env: Record<string, string> = {}, file: Record<string, unknown> = {}): Promise<string> {
  const error = await publishSettings(values, env, file).then(() => undefined, (thrown: unknown) => thrown)
  expect(error).toBeInstanceOf(UsageError)
  return (error as Error).message
}

describe('annal serve publish settings', () => {
  it('come from flags, else the environment, else the config file', async () => {
    const file = { publish: 's3://file-bucket/a', publishEndpoint: 'http://127.0.0.1:9000', publishRegion: 'eu-west-3', publishPathStyle: true }
    expect(await publishSettings({}, {}, file)).toEqual({
      bucket: 'file-bucket', prefix: 'a', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-3', pathStyle: true,
    })
    const env = { ANNAL_PUBLISH: 's3://env-bucket', ANNAL_PUBLISH_PATH_STYLE: 'false', ANNAL_PUBLISH_REGION: 'us-west-2' }
    expect(await publishSettings({}, env, file)).toMatchObject({ bucket: 'env-bucket', prefix: '', region: 'us-west-2', pathStyle: false })
    expect(await publishSettings({ publish: 's3://flag-bucket/x/y/', 'publish-path-style': true }, env, file))
      .toMatchObject({ bucket: 'flag-bucket', prefix: 'x/y', pathStyle: true })
    expect(await publishSettings({}, {}, {})).toBeUndefined()
  })

  it('read credentials from the file named, and never quote it', async () => {
    const path = join(tmp, 'credentials.json')
    await writeFile(path, JSON.stringify({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' }))
    expect(await publishSettings({ publish: 's3://tiles', 'publish-credentials': path }, {}, {}))
      .toMatchObject({ credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' } })
    await writeFile(path, JSON.stringify({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 42 }))
    const message = await refusal({ publish: 's3://tiles' }, { ANNAL_PUBLISH_CREDENTIALS: path })
    expect(message).toContain(path)
    expect(message).not.toContain('AKIDEXAMPLE')
    expect(await refusal({ publish: 's3://tiles', 'publish-credentials': join(tmp, 'none.json') })).toContain('ENOENT')
  })

  it('refuse what cannot work, naming the setting', async () => {
    expect(await refusal({ publish: 'https://tiles.example/logs' })).toMatch(/^--publish \(ANNAL_PUBLISH, publish in the config file\): a publish URL is s3:/)
    expect(await refusal({}, {}, { publish: 's3://No_Such' })).toContain('is not an S3 bucket name')
    expect(await refusal({ publish: 's3://tiles', 'publish-endpoint': 'minio:9000' })).toMatch(/^--publish-endpoint .*http\(s\) URL/)
    expect(await refusal({}, { ANNAL_PUBLISH: 's3://tiles', ANNAL_PUBLISH_PATH_STYLE: 'yes' })).toBe('ANNAL_PUBLISH_PATH_STYLE must be true or false')
    expect(await refusal({}, {}, { publish: 's3://tiles', publishPathStyle: 'true' })).toContain('publishPathStyle')
    expect(await refusal({ 'publish-endpoint': 'http://127.0.0.1:9000' })).toContain('need --publish')
  })

  it('needs a region for AWS itself', async () => {
    const previous = { region: process.env.AWS_REGION, defaultRegion: process.env.AWS_DEFAULT_REGION, config: process.env.AWS_CONFIG_FILE }
    process.env.AWS_CONFIG_FILE = join(tmp, 'no-config')
    delete process.env.AWS_REGION
    delete process.env.AWS_DEFAULT_REGION
    try {
      await expect(openBucket({ bucket: 'tiles', prefix: '' })).rejects.toThrow(/--publish needs a region/)
      ;(await openBucket({ bucket: 'tiles', prefix: '', region: 'eu-west-3' })).close()
      ;(await openBucket({ bucket: 'tiles', prefix: '', endpoint: 'http://127.0.0.1:9000' })).close()
    } finally {
      for (const [name, value] of [['AWS_REGION', previous.region], ['AWS_DEFAULT_REGION', previous.defaultRegion], ['AWS_CONFIG_FILE', previous.config]] as const) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  it('stop annal serve with exit code 2 before anything is opened', async () => {
    const io = memoryIo({ cwd: tmp, env: {} })
    expect(await main(['serve', '--dev', '--data', join(tmp, 'ledger'), '--publish', 's3://x'], io)).toBe(2)
    expect(io.stderr.trim().split('\n')).toHaveLength(1)
    expect(io.stderr).toContain('--publish')
    expect(io.stdout).not.toContain('serving')
  })
})

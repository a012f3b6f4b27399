import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3Bucket, describeTarget, parseS3Url, s3ClientConfig } from './s3.js'
import { S3RVER_CREDENTIALS, TestS3Server, VHOST_DOMAIN, vhostAgent } from './testing/s3-server.js'

describe('parseS3Url', () => {
  it('takes a bucket and an optional prefix', () => {
    expect(parseS3Url('s3://tiles')).toEqual({ bucket: 'tiles', prefix: '' })
    expect(parseS3Url('s3://tiles/')).toEqual({ bucket: 'tiles', prefix: '' })
    expect(parseS3Url('s3://my.tiles-1/logs/prod/')).toEqual({ bucket: 'my.tiles-1', prefix: 'logs/prod' })
  })

  it('refuses what is no S3 URL, no bucket name or no clean prefix', () => {
    for (const url of ['https://tiles/logs', 's3:/tiles', 's3://', 's3://ab', 's3://Tiles', 's3://-tiles', 's3://a..b',
      's3://tiles//logs', 's3://tiles/a/../b', 's3://tiles/./b', 's3://tiles/a b', 's3://tiles/a?b']) {
      expect(() => parseS3Url(url), url).toThrow(RangeError)
    }
  })
})

describe('s3ClientConfig', () => {
  it('uses path-style URLs only when asked, and us-east-1 for an endpoint without a region', () => {
    expect(s3ClientConfig({ bucket: 'tiles', prefix: '' })).toMatchObject({ forcePathStyle: false })
    expect(s3ClientConfig({ bucket: 'tiles', prefix: '' }).region).toBeUndefined()
    expect(s3ClientConfig({ bucket: 'tiles', prefix: '', endpoint: 'http://127.0.0.1:9000', pathStyle: true }))
      .toMatchObject({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true })
    expect(s3ClientConfig({ bucket: 'tiles', prefix: '', region: 'eu-west-3' })).toMatchObject({ region: 'eu-west-3' })
  })

  it('refuses an endpoint that is no http(s) URL without a path', () => {
    for (const endpoint of ['s3.example.com', 'ftp://s3.example.com', 'https://s3.example.com/tiles', 'https://s3.example.com?x']) {
      expect(() => s3ClientConfig({ bucket: 'tiles', prefix: '', endpoint }), endpoint).toThrow(RangeError)
    }
  })

  it('describes the target without its credentials', () => {
    const target = { bucket: 'tiles', prefix: 'logs', endpoint: 'http://127.0.0.1:9000', credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } }
    expect(describeTarget(target)).toBe('s3://tiles/logs at http://127.0.0.1:9000')
  })
})

describe('S3Bucket, against an S3-compatible server', () => {
  let directory: string
  let s3: TestS3Server

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'annal-s3-'))
    s3 = await TestS3Server.start(directory, 'tiles')
  })

  afterAll(async () => {
    await s3.close()
    await rm(directory, { recursive: true, force: true })
  })

  const headers = { contentType: 'application/octet-stream', cacheControl: 'public, max-age=10' }
  const signal = new AbortController().signal

  it('puts objects under its prefix, path-style, with their headers', async () => {
    const bucket = new S3Bucket({ bucket: 'tiles', prefix: 'a/b', endpoint: s3.url, pathStyle: true, credentials: S3RVER_CREDENTIALS })
    await bucket.checkRegion()
    await bucket.put('log/tile/0/000', new Uint8Array([1, 2, 3]), headers, signal)
    bucket.close()
    const response = await fetch(s3.objectUrl('a/b/log/tile/0/000'))
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]))
    expect(response.headers.get('cache-control')).toBe('public, max-age=10')
  })

  it('puts objects virtual-hosted, the bucket in the host name', async () => {
    const port = new URL(s3.url).port
    const bucket = new S3Bucket({ bucket: 'tiles', prefix: 'vhost', endpoint: `http://s3.${VHOST_DOMAIN}:${port}`, credentials: S3RVER_CREDENTIALS },
      { requestHandler: { httpAgent: vhostAgent() } })
    await bucket.put('log/checkpoint', new TextEncoder().encode('hello\n'), headers, signal)
    bucket.close()
    expect(s3.requests.at(-1)).toMatchObject({ method: 'PUT', host: `tiles.s3.${VHOST_DOMAIN}:${port}` })
    expect(await (await fetch(s3.objectUrl('vhost/log/checkpoint'))).text()).toBe('hello\n')
  })

  it('signs with the credentials it is given', async () => {
    const bucket = new S3Bucket({ bucket: 'tiles', prefix: '', endpoint: s3.url, pathStyle: true,
      credentials: { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'S3RVER' } })
    await expect(bucket.put('x', new Uint8Array([1]), headers, signal)).rejects.toMatchObject({ name: 'InvalidAccessKeyId' })
    bucket.close()
  })
})

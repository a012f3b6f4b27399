// The parts of s3rver (a fake S3 server on Koa, with no types of its own) the tests use.
declare module 's3rver' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  interface S3rverOptions {
    silent?: boolean
    directory: string
    configureBuckets?: { name: string }[]
    serviceEndpoint?: string
  }

  export default class S3rver {
    constructor(options: S3rverOptions)
    configureBuckets(): Promise<void>
    callback(): (request: IncomingMessage, response: ServerResponse) => void
    logger: { close(): void }
  }
}

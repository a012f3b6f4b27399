/** The headers a published object is stored with, and served with from the bucket. */
export interface ObjectHeaders {
  readonly contentType: string
  readonly cacheControl: string
}

/** Where a Publisher puts objects: S3Bucket, or any store that takes objects by path. */
export interface ObjectBucket {
  /** Names the destination (store, bucket and prefix), to keep the progress made in each apart. */
  readonly id: string
  /** Stores `body` at `path` (relative to the destination's prefix), replacing any object there. */
  put(path: string, body: Uint8Array, headers: ObjectHeaders, signal: AbortSignal): Promise<void>
}

import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { TILE_WIDTH, concatBytes, isTlogError, parseTilePath, type MemoryTree } from '@annal/tlog'

/** How a test tile server misbehaves; change it while the server runs. */
export interface TileServerMode {
  /** Answer every request with this status and no tile. */
  status?: number
  /** Serve tiles one byte short. */
  short?: boolean
  /** Accept requests and never answer. */
  hang?: boolean
}

export interface TileServer {
  /** The tlog-tiles prefix: `<url>/tile/<L>/<N>[.p/<W>]`. */
  readonly url: string
  readonly mode: TileServerMode
  /** Paths requested so far, in order. */
  readonly requested: string[]
  close(): Promise<void>
}

/**
 * C2SP tlog-tiles hash tiles of a MemoryTree as it is now, under `/log` on 127.0.0.1: tile
 * (L, N) holds nodes (8L, 256N + i). A full tile is served once the tree holds all 256 of its
 * hashes, a partial `.p/W` once it holds W of them; 404 otherwise.
 */
export async function tileServer(tree: MemoryTree, mode: TileServerMode = {}): Promise<TileServer> {
  const requested: string[] = []
  const app = new Hono()
  app.get('/log/*', async (c) => {
    const path = c.req.path.slice('/log/'.length)
    requested.push(path)
    if (mode.hang === true) return new Promise<Response>(() => undefined)
    if (mode.status !== undefined) return c.body(null, mode.status as 500)
    let tile
    try {
      tile = parseTilePath(path)
    } catch (error) {
      if (isTlogError(error)) return c.body(null, 404)
      throw error
    }
    if (tile.kind !== 'hash' || (tile.index * TILE_WIDTH + tile.width) * TILE_WIDTH ** tile.level > tree.size) {
      return c.body(null, 404)
    }
    const { level, index, width } = tile
    const bytes = concatBytes(...Array.from({ length: width }, (_, i) => tree.nodeHash({ level: 8 * level, index: index * TILE_WIDTH + i })))
    return c.body(new Uint8Array(mode.short === true ? bytes.subarray(1) : bytes), 200, { 'Content-Type': 'application/octet-stream' })
  })
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/log`,
    mode,
    requested,
    close: () => new Promise<void>((resolve) => {
      ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      server.close(() => resolve())
    }),
  }
}

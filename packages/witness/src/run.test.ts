import { describe, expect, it } from 'vitest'
import { parseListen } from './run.js'

describe('parseListen', () => {
  it('reads host:port, [v6]:port and :port (loopback)', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseListen(':7000')).toEqual({ host: '127.0.0.1', port: 7000 })
    expect(parseListen('localhost:1')).toEqual({ host: 'localhost', port: 1 })
  })

  it('refuses anything else', () => {
    for (const listen of ['', '8080', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '::1:80', 'a:b', '[::1]', 'h:1:2']) {
      expect(() => parseListen(listen)).toThrow(RangeError)
    }
  })
})

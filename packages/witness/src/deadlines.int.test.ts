// The deadlines of runWitness's listeners, met by real slow clients on loopback: stalled
// headers, a body trickled a byte at a time, many such uploads at once.
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runWitness, type RunningWitness, type RunWitnessOptions } from './run.js'
import { TestLog } from './testing/log.js'

const log = new TestLog('example.com/deadlines')
log.append(10)

let data: string
let running: RunningWitness | undefined

beforeEach(async () => {
  data = await mkdtemp(join(tmpdir(), 'annal-witness-deadlines-'))
})

afterEach(async () => {
  await running?.close()
  running = undefined
  await rm(data, { recursive: true, force: true })
})

async function start(options: Partial<RunWitnessOptions>): Promise<RunningWitness> {
  running = await runWitness({ data, name: 'witness.example/deadlines', logs: [log.verifierKey], ...options })
  return running
}

/** Generous next to the deadlines under test, and short next to Node's own defaults (60 s, 300 s). */
const CLOSED_WITHIN_MS = 10_000

/**
 * Sends `head` to `url`'s port, then (if `trickle`) one byte of body every 50 ms, never the
 * whole body. Resolves with everything the witness sent once it closes the connection; rejects
 * if it has not closed within CLOSED_WITHIN_MS.
 */
function slowRequest(url: string, head: string, trickle: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    let ticker: ReturnType<typeof setInterval> | undefined
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => {
      socket.write(head)
      if (trickle) ticker = setInterval(() => socket.write('x'), 50)
    })
    const giveUp = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the connection was still open after ${CLOSED_WITHIN_MS} ms`))
    }, CLOSED_WITHIN_MS)
    socket.on('data', (chunk) => { data += chunk.toString() })
    // Writes racing the close may fail; the close is what is waited for.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearInterval(ticker)
      clearTimeout(giveUp)
      resolve(data)
    })
  })
}

const BODY_HEAD = 'POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nold 0\n'

describe('runWitness deadlines', () => {
  it('answers bodies slower than bodyTimeoutMs with a 408 problem, then closes, for many at once', async () => {
    const witness = await start({ bodyTimeoutMs: 300, requestTimeoutMs: 60_000 })
    const replies = await Promise.all(Array.from({ length: 20 }, () => slowRequest(witness.url, BODY_HEAD, true)))
    for (const reply of replies) {
      const [head, body] = reply.split('\r\n\r\n') as [string, string]
      expect(head).toMatch(/^HTTP\/1\.1 408 /)
      expect(head).toMatch(/\r\nconnection: close(?:\r\n|$)/i)
      expect(head).toMatch(/\r\ncontent-type: application\/problem\+json(?:\r\n|$)/i)
      expect(JSON.parse(body)).toMatchObject({ status: 408, code: 'BODY_TIMEOUT' })
    }
    // The witness still serves.
    expect((await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body: log.body(0, 10) })).status).toBe(200)
  })

  it('cuts off requests slower than requestTimeoutMs, headers or body, on both listeners', async () => {
    const witness = await start({ requestTimeoutMs: 300, bodyTimeoutMs: 60_000, admin: '127.0.0.1:0' })
    const stalledHeaders = 'POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n'
    const replies = await Promise.all([
      slowRequest(witness.url, stalledHeaders, false),
      slowRequest(witness.adminUrl!, 'DELETE /v1/evidence/x HTTP/1.1\r\nHost: x\r\n', false),
      slowRequest(witness.url, BODY_HEAD, true),
    ])
    // Node's own answer: a bare 408 before closing.
    for (const reply of replies) expect(reply).toMatch(/^HTTP\/1\.1 408 /)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { envelopeBytes, envelopeTemplate } from './envelope.js'

// envelopeTemplate must give envelopeBytes' bytes for every request and event: claims are
// whatever a token carries (any Unicode, quotes, escapes), content types whatever a client sent.
const text = fc.string({ unit: 'binary', maxLength: 40 })
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'))
const principal = fc.record({
  iss: text,
  sub: fc.option(text, { nil: undefined }),
  clientId: fc.option(text, { nil: undefined }),
  jti: fc.option(text, { nil: undefined }),
  scopes: fc.uniqueArray(text, { maxLength: 4 }),
  fingerprint: hex64,
  expiresAt: fc.nat(),
})
const event = fc.record({
  object: hex64.map((hex) => `sha256:${hex}`),
  size: fc.nat({ max: 2 ** 24 }),
  line: fc.integer({ min: 1, max: 10_000 }),
})

describe('envelopeTemplate', () => {
  it('gives envelopeBytes byte for byte', () => {
    fc.assert(fc.property(principal, text, text, fc.date({ noInvalidDate: true }), fc.uuid(), fc.array(event, { minLength: 1, maxLength: 5 }),
      (who, scope, contentType, time, requestId, events) => {
        const base = { principal: who, scope, contentType, time, requestId }
        expect(envelopeTemplate(base)(events)).toEqual(events.map((e) => envelopeBytes({ ...base, ...e })))
      }), { numRuns: 300 })
  })
})

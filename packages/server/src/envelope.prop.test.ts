import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from './canonical-json.js'
import { accessRecordBytes } from './access-record.js'
import { envelopeBytes, envelopeTemplate } from './envelope.js'
import { accessRecordValue, envelopeValue } from './testing/records.js'

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

// envelopeBytes and accessRecordBytes write their members in sorted order by hand; canonicalJson
// of the value (RFC 8785, tested on the RFC's examples) is what they must equal.
const utf8 = new TextDecoder()
const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arbitrary, { nil: undefined })

describe('envelopeBytes', () => {
  it('is canonicalJson of envelopeValue', () => {
    fc.assert(fc.property(principal, text, text, fc.date({ noInvalidDate: true }), fc.uuid(), event, fc.boolean(),
      (who, scope, contentType, time, requestId, { object, size, line }, inBatch) => {
        const input = { principal: who, scope, contentType, time, requestId, object, size, ...(inBatch ? { line } : {}) }
        expect(utf8.decode(envelopeBytes(input))).toBe(canonicalJson(envelopeValue(input)))
      }), { numRuns: 500 })
  })

  it('refuses a lone surrogate as canonicalJson does', () => {
    const input = { principal: { iss: 'i', scopes: [], fingerprint: 'f', expiresAt: 0 }, scope: 's', contentType: 'a\ud800',
      time: new Date(0), requestId: 'r', object: 'o', size: 1 }
    expect(() => canonicalJson(envelopeValue(input))).toThrow(TypeError)
    expect(() => envelopeBytes(input)).toThrow(TypeError)
  })
})

describe('accessRecordBytes', () => {
  it('is canonicalJson of accessRecordValue, refused tokens and absent members too', () => {
    const input = fc.record({
      time: fc.date({ noInvalidDate: true }),
      requestId: fc.uuid(),
      method: text,
      route: maybe(text),
      log: maybe(fc.string({ unit: 'binary', maxLength: 200 })),
      object: maybe(fc.string({ unit: 'binary', maxLength: 200 })),
      status: fc.integer({ min: 100, max: 599 }),
      code: maybe(text),
      requiredScope: maybe(text),
      authorizedBy: maybe(text),
      clampedScopes: maybe(fc.array(text, { maxLength: 4 })),
      principal: maybe(principal),
      fingerprint: maybe(hex64),
      reason: maybe(text),
      remoteAddress: maybe(text),
      replayed: maybe(fc.boolean()),
      userAgent: maybe(fc.string({ unit: 'binary', maxLength: 300 })),
    }, { requiredKeys: ['time', 'requestId', 'method', 'status'] })
    fc.assert(fc.property(input, fc.boolean(), (record, sameToken) => {
      // A verified token's record carries its own fingerprint; a refused one's, a fingerprint alone.
      const full = sameToken && record.principal !== undefined ? { ...record, fingerprint: record.principal.fingerprint } : record
      expect(utf8.decode(accessRecordBytes(full))).toBe(canonicalJson(accessRecordValue(full)))
    }), { numRuns: 500 })
  })
})

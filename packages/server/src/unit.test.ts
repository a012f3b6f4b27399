import { BODY_ERROR_CODES, BodyError } from '@annal/http'
import { NOTE_ERROR_CODES, NoteError } from '@annal/note'
import { STORAGE_ERROR_CODES, StorageError } from '@annal/storage'
import { STORE_ERROR_CODES, StoreError } from '@annal/store'
import { TLOG_ERROR_CODES, TlogError } from '@annal/tlog'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resourceMetadataUrl } from './app.js'
import { AuthError } from './auth.js'
import { mediaType, splitNdjson } from './body.js'
import { API_ERROR_CODES, ApiError } from './errors.js'
import { countParam, entryRef } from './params.js'
import { PROBLEMS, ProblemError, problemFor } from './problem.js'
import { ACCESS_LOG, SCOPES, authorizingScope, isAnnalScope, neededScope, scopesFromClaims } from './scopes.js'
import { TOKEN_PROFILES } from './token-profile.js'

const utf8 = new TextEncoder()

describe('scopes', () => {
  it('match exact tokens, per log or for all logs, and read the access log with audit:read only', () => {
    const granted = new Set(['log:read', 'log:append:payments', 'audit:read', 'log:admin:*'])
    expect(authorizingScope(granted, 'log:read', 'audit')).toBe('log:read')
    expect(authorizingScope(granted, 'log:append', 'payments')).toBe('log:append:payments')
    expect(authorizingScope(granted, 'log:append', 'audit')).toBeUndefined()
    expect(authorizingScope(granted, 'log:append', undefined)).toBeUndefined()
    expect(authorizingScope(granted, 'log:admin', 'x')).toBeUndefined()
    expect(authorizingScope(new Set(['log:read']), 'log:read', 'access')).toBeUndefined()
    expect(authorizingScope(new Set(['audit:read']), 'log:read', 'access')).toBe('audit:read')
    expect(neededScope('log:read', 'access')).toBe('audit:read')
    expect(neededScope('log:append', 'payments')).toBe('log:append:payments')
    expect(neededScope('log:admin', undefined)).toBe('log:admin')
  })

  it('grant nothing that is not literally granted', () => {
    const logs = ['payments', 'pay', ACCESS_LOG]
    const real = fc.oneof(fc.constantFrom(...SCOPES), fc.tuple(fc.constantFrom(...SCOPES), fc.constantFrom(...logs)).map(([base, log]) => `${base}:${log}`))
    // Spellings a lenient comparison would take: case, colons, spaces, prefixes and suffixes.
    const nearMiss = fc.tuple(real, fc.constantFrom<(scope: string) => string>(
      (scope) => scope.toUpperCase(), (scope) => `${scope}:`, (scope) => `${scope} `, (scope) => ` ${scope}`,
      (scope) => scope.replace(':', '::'), (scope) => `${scope}s`, (scope) => scope.slice(0, -1), (scope) => `x${scope}`,
      (scope) => `${scope}:*`)).map(([scope, change]) => change(scope))
    const runs = 1000
    let granted = 0
    fc.assert(fc.property(fc.uniqueArray(fc.oneof({ arbitrary: real, weight: 3 }, nearMiss), { maxLength: 6 }), fc.constantFrom(...SCOPES),
      fc.option(fc.constantFrom(...logs), { nil: undefined }), (scopes, base, log) => {
        const scope = authorizingScope(new Set(scopes), base, log)
        // The only spellings that allow `base` on `log`, as docs/api.md lists them.
        const audit = base === 'audit:read' || (base === 'log:read' && log === ACCESS_LOG)
        const allowing = audit ? ['audit:read'] : [...(log === undefined ? [] : [`${base}:${log}`]), base]
        expect(scope).toBe(allowing.find((allowed) => scopes.includes(allowed)))
        if (scope !== undefined) granted++
      }), { numRuns: runs })
        expect(granted, 'runs that granted').toBeGreaterThanOrEqual(runs * 0.2)
    expect(granted, 'runs that refused').toBeLessThanOrEqual(runs * 0.8)
  })

  it('come from scope or scp, and none means none', () => {
    const { scopeClaims } = TOKEN_PROFILES.rfc9068
    expect(scopesFromClaims({ scope: ' a  b a ' }, scopeClaims)).toEqual(['a', 'b'])
    expect(scopesFromClaims({ scp: ['a', 'b', 'a'] }, scopeClaims)).toEqual(['a', 'b'])
    expect(scopesFromClaims({ scope: 'a', scp: ['b'] }, scopeClaims)).toEqual(['a'])
    expect(scopesFromClaims({}, scopeClaims)).toEqual([])
    for (const bad of [{ scope: 1 }, { scope: null }, { scp: 'a' }, { scp: [1] }, { scp: ['a b'] }, { scp: [''] }]) {
      expect(scopesFromClaims(bad, scopeClaims)).toBeUndefined()
    }
  })

  it('come from the claims a profile names, in their forms', () => {
    const { entra, okta } = TOKEN_PROFILES
    expect(scopesFromClaims({ scp: 'log:read log:append', roles: ['log:admin'] }, entra.scopeClaims)).toEqual(['log:read', 'log:append'])
    expect(scopesFromClaims({ roles: ['log:admin'] }, entra.scopeClaims)).toEqual(['log:admin'])
    expect(scopesFromClaims({ scp: ['log:read'] }, entra.scopeClaims)).toBeUndefined()
    expect(scopesFromClaims({ scp: ['log:read'], scope: 'log:admin' }, okta.scopeClaims)).toEqual(['log:read'])
  })

  it('know Annal\'s scopes, alone or narrowed to a log', () => {
    for (const scope of ['log:read', 'log:append:payments', 'audit:read', 'log:admin:x']) expect(isAnnalScope(scope)).toBe(true)
    for (const scope of ['openid', 'audit:read:x', 'log:read:', 'log:read:a:b', 'LOG:READ']) expect(isAnnalScope(scope)).toBe(false)
  })
})

describe('bodies and parameters', () => {
  it('splits NDJSON lines, allowing CRLF and one final newline', () => {
    const lines = splitNdjson(utf8.encode('1\r\n"two"\n{"3":3}\n'), 3)
    expect(lines.map((line) => new TextDecoder().decode(line))).toEqual(['1', '"two"', '{"3":3}'])
    expect(() => splitNdjson(utf8.encode('1\n2\n3\n4'), 3)).toThrow(expect.objectContaining({ code: 'BATCH_TOO_LARGE' }))
    expect(() => splitNdjson(utf8.encode('1\n\n'), 3)).toThrow(expect.objectContaining({ code: 'BODY_MALFORMED', extensions: { line: 2 } }))
    expect(() => splitNdjson(new Uint8Array([0x31, 0x0a, 0xff]), 3)).toThrow(expect.objectContaining({ extensions: { line: 2 } }))
    expect(() => splitNdjson(new Uint8Array(0), 3)).toThrow(expect.objectContaining({ code: 'ENTRY_EMPTY' }))
  })

  it('reads media types strictly', () => {
    expect(mediaType(undefined, 'application/json')).toBe('application/json')
    expect(mediaType('Application/JSON; charset=utf-8', '')).toBe('application/json')
    expect(() => mediaType('json', '')).toThrow(expect.objectContaining({ code: 'CONTENT_TYPE_UNSUPPORTED' }))
  })

  it('accepts counts only in canonical decimal', () => {
    expect(countParam('0', 'n')).toBe(0)
    expect(countParam(undefined, 'n', 7)).toBe(7)
    expect(countParam('9007199254740991', 'n')).toBe(2 ** 53 - 1)
    expect(() => countParam('9007199254740992', 'n')).toThrow(expect.objectContaining({ code: 'SIZE_OUT_OF_RANGE' }))
    for (const bad of ['', ' 1', '1 ', '01', '+1', '-1', '1e3', '0x10', '1.0', '１']) {
      expect(() => countParam(bad, 'n')).toThrow(expect.objectContaining({ code: 'REQUEST_MALFORMED' }))
    }
    expect(() => countParam(undefined, 'n')).toThrow(expect.objectContaining({ code: 'REQUEST_MALFORMED' }))
    expect(entryRef('12')).toBe(12)
    expect(entryRef('0123')).toBe('0123')
    expect(entryRef('1234567890123456')).toBe('1234567890123456')
    expect(entryRef('abcd')).toBe('abcd')
  })
})

describe('problems', () => {
  it('map every code of every layer to a 4xx or 5xx with a title', () => {
    const codes = [
      ...API_ERROR_CODES, ...BODY_ERROR_CODES, ...STORE_ERROR_CODES, ...STORAGE_ERROR_CODES, ...NOTE_ERROR_CODES, ...TLOG_ERROR_CODES,
    ]
    for (const code of codes) {
      expect(PROBLEMS[code].status).toBeGreaterThanOrEqual(400)
      expect(PROBLEMS[code].title).not.toBe('')
    }
  })

  it('answer the error class of each layer by its code', () => {
    const errors = [
      new ApiError('TOKEN_MISSING', 'm'), new AuthError('TOKEN_INVALID', 'm', 'reason'), new BodyError('BODY_TOO_LARGE', 'm'),
      new StoreError('HEAD_CONFLICT', 'm'), new StorageError('SWAP_CONFLICT', 'm'), new NoteError('SIGNATURE_INVALID', 'm'),
      new TlogError('PROOF_MALFORMED', 'm'),
    ]
    for (const error of errors) {
      expect(problemFor(error)).toMatchObject({ code: error.code, status: PROBLEMS[error.code].status })
    }
  })

  it('are RFC 9457 bodies that hide the details of 5xx and of foreign errors', () => {
    expect(problemFor(new StoreError('LOG_NOT_FOUND', 'no log has that name'))).toEqual({
      type: 'https://annal.dev/problems/log-not-found', title: 'No such log', status: 404, detail: 'no log has that name', code: 'LOG_NOT_FOUND',
    })
    expect(problemFor(new StoreError('CORRUPTION', 'tile 3/4 at /var/secret is missing')).detail).toBe('Storage corruption')
    expect(problemFor(new Error('secret'))).toMatchObject({ status: 500, code: 'INTERNAL_ERROR', detail: 'internal error' })
    const ambiguous = problemFor(new ProblemError('ID_AMBIGUOUS', 'ambiguous', { candidates: [{ id: 'ab', index: 1 }], status: 200 }))
    expect(ambiguous).toMatchObject({ status: 409, candidates: [{ id: 'ab', index: 1 }] })
  })
})

describe('helpers', () => {
  it('puts the RFC 9728 well-known path between host and path', () => {
    expect(resourceMetadataUrl('https://annal.example/')).toBe('https://annal.example/.well-known/oauth-protected-resource')
    expect(resourceMetadataUrl('https://annal.example')).toBe('https://annal.example/.well-known/oauth-protected-resource')
    expect(resourceMetadataUrl('https://x.example:8443/api/')).toBe('https://x.example:8443/.well-known/oauth-protected-resource/api')
    expect(() => resourceMetadataUrl('https://x.example/?q=1')).toThrow(TypeError)
    expect(() => resourceMetadataUrl('urn:x')).toThrow(TypeError)
  })
})

describe('access records', () => {
  it('clip long names and user agents by code points', async () => {
    const { accessRecordBytes } = await import('./access-record.js')
    const bytes = accessRecordBytes({
      time: new Date(0), requestId: 'r', method: 'GET', status: 404, log: '😀'.repeat(200), userAgent: 'a'.repeat(10_000),
    })
    const record = JSON.parse(new TextDecoder().decode(bytes)) as { log: string; user_agent: string }
    expect(Array.from(record.log)).toHaveLength(128)
    expect(record.user_agent).toHaveLength(256)
  })
})

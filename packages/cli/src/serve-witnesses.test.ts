import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from '@annal/note'
import { describe, expect, it } from 'vitest'
import { UsageError } from './failure.js'
import { alertLine, witnessSettings } from './serve-witnesses.js'

const w1 = generateKeyPair('w1.example', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
const w2 = generateKeyPair('w2.example', { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
const logKey = generateKeyPair('log.example').verifierKey

/** The UsageError message `witnessSettings` throws for these settings. */
function refusal(values: Record<string, string | string[]>, env: Record<string, string> = {}, file: Record<string, unknown> = {}): string {
  try {
    witnessSettings(values, env, file)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as Error).message
  }
  throw new Error('not refused')
}

describe('annal serve witness settings', () => {
  it('come from flags, else the environment, else the config file, a list replacing a list', () => {
    const file = { witnesses: [{ verifierKey: w1, url: 'http://127.0.0.1:7381' }, { name: 'w2.example', verifierKey: w2, url: 'http://127.0.0.1:7382/' }], policy: 1, witnessAlertAfterMs: 500 }
    expect(witnessSettings({}, {}, file)).toEqual({
      witnesses: [{ name: 'w1.example', verifierKey: w1, url: 'http://127.0.0.1:7381' }, { name: 'w2.example', verifierKey: w2, url: 'http://127.0.0.1:7382/' }],
      policy: { k: 1 }, alertAfterMs: 500,
    })
    const env = { ANNAL_WITNESSES: ` ${w2}@http://127.0.0.1:9002  `, ANNAL_POLICY: '1', ANNAL_WITNESS_ALERT_AFTER: '700' }
    expect(witnessSettings({}, env, file)).toEqual({ witnesses: [{ name: 'w2.example', verifierKey: w2, url: 'http://127.0.0.1:9002' }],
      policy: { k: 1 }, alertAfterMs: 700 })
    expect(witnessSettings({ witness: [`${w1}@http://127.0.0.1:9001`], 'witness-alert-after': '900' }, env, file)).toEqual({
      witnesses: [{ name: 'w1.example', verifierKey: w1, url: 'http://127.0.0.1:9001' }], policy: { k: 1 }, alertAfterMs: 900,
    })
    expect(witnessSettings({}, {}, {})).toEqual({ witnesses: [] })
  })

  it('refuse a policy without witnesses, and name the setting that is wrong', () => {
    expect(refusal({ policy: '1' })).toBe('--policy needs witnesses: give --witness, ANNAL_WITNESSES or witnesses in the config file')
    expect(refusal({}, {}, { policy: 1 })).toBe('--policy needs witnesses: give --witness, ANNAL_WITNESSES or witnesses in the config file')
    expect(refusal({ witness: [`${w1}@http://x`], policy: '2' })).toBe('--policy must be 1..1, the number of witnesses')
    expect(refusal({ witness: [`${w1}@http://x`], policy: '0' })).toBe('--policy (ANNAL_POLICY, policy in the config file) must be a positive whole number')
    expect(refusal({ witness: ['foo@http://x'] })).toBe("--witness: the witness's verifier key is malformed")
    expect(refusal({ witness: [w1] })).toBe('--witness takes <verifier key>@<http(s) URL>')
    expect(refusal({ witness: [`${logKey}@http://x`] })).toBe("--witness: a witness's verifier key is a type 0x04 (cosignature) key")
    expect(refusal({}, { ANNAL_WITNESSES: 'nope@http://x' })).toBe("ANNAL_WITNESSES: the witness's verifier key is malformed")
    expect(refusal({}, {}, { witnesses: [{ name: 'w9.example', verifierKey: w1, url: 'http://x' }] }))
      .toBe('witnesses in the config file: the name w9.example is not its key\'s name')
    expect(refusal({}, {}, { witnesses: [{ verifierKey: w1, url: 'ftp://x' }] })).toBe('witnesses in the config file: the URL must be http(s)')
    expect(refusal({}, {}, { witnesses: [`${w1}@http://x`] })).toBe('witnesses in the config file must be a list of {name?, verifierKey, url}')
    expect(refusal({}, {}, { witnesses: [{ verifierKey: w1, url: 'http://x', k: 1 }] })).toBe('witnesses in the config file must be a list of {name?, verifierKey, url}')
    expect(refusal({ 'witness-alert-after': '1e3' })).toMatch(/^--witness-alert-after .* must be a positive whole number$/)
  })

  it('print one line when a witness has failed for a while, and one when it recovers', () => {
    const since = new Date('2026-11-26T10:50:40.002Z')
    const alert = { witness: 'w1.example', log: 'audit', since, lastError: 'request failed', cosignedSize: 3 }
    expect(alertLine({ kind: 'failing', ...alert }))
      .toBe('annal: warning: witness w1.example has failed for log audit since 2026-11-26T10:50:40.002Z (request failed); its cosignatures wait')
    expect(alertLine({ kind: 'recovered', ...alert, cosignedSize: 5 }))
      .toBe('annal: witness w1.example cosigns log audit again (size 5), after failing since 2026-11-26T10:50:40.002Z')
  })
})

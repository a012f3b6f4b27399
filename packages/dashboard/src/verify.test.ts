import { parsePolicy } from '@annal/client'
import { generateKeyPair, SIGNATURE_TYPE_COSIGNATURE_V1 } from '@annal/note'
import { describe, expect, it } from 'vitest'
import { type LogView, leafShows, policyFromServer } from './verify.js'

const log = generateKeyPair('annal.test/audit')
const witness = (name: string) => generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey

function view(witnessing: LogView['witnessing']): LogView {
  return { name: 'audit', origin: 'annal.test/audit', verifier_key: log.verifierKey, size: 3, root: '', witnessing }
}

const health = { cosigned_size: 3, failures: 0, last_error: null, failing_since: null }

describe('policyFromServer', () => {
  it('trusts the log key alone for a log that is not witnessed', () => {
    const policy = parsePolicy(policyFromServer(view(null), 'http://127.0.0.1:8080'))
    expect(policy.logs.map((entry) => entry.verifier.name)).toEqual(['annal.test/audit'])
    expect(policy.quorum).toEqual({ kind: 'none' })
  })

  it('asks k of the configured witnesses, leaving out those the server has no key for', () => {
    const policy = parsePolicy(policyFromServer(view({ k: 2, policy_met_size: 3, witnesses: [
      { name: 'w1.test', configured: true, verifier_key: witness('w1.test'), ...health },
      { name: 'w2.test', configured: true, verifier_key: witness('w2.test'), ...health },
      { name: 'w3.test', configured: false, verifier_key: null, ...health },
    ] }), 'http://127.0.0.1:8080'))
    expect(policy.witnesses.map((entry) => entry.name)).toEqual(['w1.test', 'w2.test'])
    expect(policy.quorum).toMatchObject({ kind: 'group', threshold: 2 })
  })
})

describe('leafShows', () => {
  const leaf = new TextEncoder().encode('{"b":[1,{"d":2,"c":3}],"a":"x"}')

  it('holds for the envelope parsed from the leaf, whatever the order of its members', () => {
    expect(leafShows(leaf, { index: 0, id: '', envelope: { a: 'x', b: [1, { c: 3, d: 2 }] } })).toBe(true)
  })

  it('fails for any other value, or for a leaf shown as base64 that differs', () => {
    expect(leafShows(leaf, { index: 0, id: '', envelope: { a: 'y', b: [1, { c: 3, d: 2 }] } })).toBe(false)
    expect(leafShows(leaf, { index: 0, id: '', envelope: { a: 'x', b: [{ c: 3, d: 2 }, 1] } })).toBe(false)
    expect(leafShows(leaf, { index: 0, id: '', leaf_base64: btoa('something else') })).toBe(false)
    expect(leafShows(new Uint8Array([0xff, 1]), { index: 0, id: '', leaf_base64: btoa('\xff\x01') })).toBe(true)
  })
})

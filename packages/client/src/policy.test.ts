import { generateKeyPair, SIGNATURE_TYPE_COSIGNATURE_V1 } from '@annal/note'
import { describe, expect, it } from 'vitest'
import { parsePolicy, quorumMet } from './policy.js'
import { expectClientError } from './testing/expect.js'

const log = generateKeyPair('example.com/log').verifierKey
const witness = (name: string): string => generateKeyPair(`${name}.example`, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).verifierKey
const [x1, x2, x3, y1, y2, y3] = ['x1', 'x2', 'x3', 'y1', 'y2', 'y3'].map(witness) as [string, string, string, string, string, string]

// The example of tlog-policy §Example policy, with keys, comments, tabs and URLs.
const example = `# the log
log ${log} https://log.example/
\t
witness X1 ${x1}
witness X2\t${x2}   https://x2.example/
witness X3 ${x3}
  group X-witnesses 2 X1 X2 X3

witness Y1 ${y1}
witness Y2 ${y2}
witness Y3 ${y3}
group Y-witnesses any Y1 Y2 Y3
\t# two organizations
group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`

describe('parsePolicy', () => {
  it('reads the example of the spec', () => {
    const policy = parsePolicy(example)
    expect(policy.logs.map((entry) => [entry.verifier.name, entry.url])).toEqual([['example.com/log', 'https://log.example/']])
    expect(policy.witnesses.map((entry) => [entry.name, entry.url])).toEqual([
      ['X1', undefined], ['X2', 'https://x2.example/'], ['X3', undefined], ['Y1', undefined], ['Y2', undefined], ['Y3', undefined],
    ])
    expect(policy.quorum).toMatchObject({ kind: 'group', name: 'X-and-Y', threshold: 2 })
    const fromBytes = parsePolicy(new TextEncoder().encode(example))
    expect(fromBytes.quorum).toEqual(policy.quorum)
    expect(fromBytes.witnesses.map((entry) => entry.verifier.publicKey)).toEqual(policy.witnesses.map((entry) => entry.verifier.publicKey))
  })

  it('evaluates k of n groups recursively', () => {
    const { quorum } = parsePolicy(example)
    const met = (...names: string[]): boolean => quorumMet(quorum, new Set(names))
    expect(met('X1', 'X2', 'Y3')).toBe(true)
    expect(met('X1', 'X3', 'Y1', 'Y2')).toBe(true)
    expect(met('X1', 'Y1', 'Y2', 'Y3')).toBe(false)
    expect(met('X1', 'X2', 'X3')).toBe(false)
    expect(met()).toBe(false)
  })

  it('takes quorum none and a single witness as the quorum', () => {
    expect(quorumMet(parsePolicy(`log ${log}\nquorum none\n`).quorum, new Set())).toBe(true)
    const single = parsePolicy(`witness w ${x1}\nquorum w\n`)
    expect(single.logs).toEqual([])
    expect(quorumMet(single.quorum, new Set(['w']))).toBe(true)
    expect(quorumMet(single.quorum, new Set(['v']))).toBe(false)
  })

  const refused: [string, string, number][] = [
    ['no quorum', `log ${log}\n`, 1],
    ['an empty file', '', 1],
    ['two quorum lines', `witness w ${x1}\nquorum w\nquorum none\n`, 3],
    ['no final newline', `log ${log}\nquorum none`, 2],
    ['a carriage return', `log ${log}\r\nquorum none\n`, 1],
    ['a control character in a comment', `# a\x01b\nquorum none\n`, 1],
    ['an unknown keyword', `logs ${log}\nquorum none\n`, 1],
    ['a log without a key', 'log\nquorum none\n', 1],
    ['a log with two URLs', `log ${log} https://a/ https://b/\nquorum none\n`, 1],
    ['a witness key as a log key', `log ${x1}\nquorum none\n`, 1],
    ['a log key as a witness key', `witness w ${log}\nquorum none\n`, 1],
    ['a bad vkey', `log ${log.slice(0, -2)}\nquorum none\n`, 1],
    ['a duplicate log', `log ${log}\nlog ${log}\nquorum none\n`, 2],
    ['a duplicate witness key under another name', `witness a ${x1}\nwitness b ${x1}\nquorum a\n`, 2],
    ['a witness name defined twice', `witness a ${x1}\nwitness a ${x2}\nquorum a\n`, 2],
    ['a witness named none', `witness none ${x1}\nquorum none\n`, 1],
    ['a group member not defined yet', `group g any a\nwitness a ${x1}\nquorum g\n`, 1],
    ['a group member listed twice', `witness a ${x1}\ngroup g any a a\nquorum g\n`, 2],
    ['a member in two groups', `witness a ${x1}\nwitness b ${x2}\ngroup g any a b\ngroup h any a\nquorum g\n`, 4],
    ['none as a member', `witness a ${x1}\ngroup g any a none\nquorum g\n`, 2],
    ['a group with no members', 'group g any\nquorum none\n', 1],
    ['a threshold above n', `witness a ${x1}\ngroup g 2 a\nquorum g\n`, 2],
    ['a threshold of 0', `witness a ${x1}\ngroup g 0 a\nquorum g\n`, 2],
    ['a threshold with a leading zero', `witness a ${x1}\ngroup g 01 a\nquorum g\n`, 2],
    ['a group name taken', `witness a ${x1}\ngroup a any a\nquorum a\n`, 2],
    ['a quorum of an undefined name', `witness a ${x1}\nquorum b\n`, 2],
    ['a quorum defined before its group', `witness a ${x1}\nquorum g\ngroup g any a\n`, 2],
    ['a quorum with two names', `witness a ${x1}\nquorum a a\n`, 2],
  ]
  it.each(refused)('refuses %s', (_, text, line) => {
    expectClientError(() => parsePolicy(text), 'POLICY_MALFORMED', line)
  })

  it('refuses bytes that are not UTF-8', () => {
    expectClientError(() => parsePolicy(Uint8Array.of(0x23, 0xff, 0x0a)), 'POLICY_MALFORMED')
  })
})

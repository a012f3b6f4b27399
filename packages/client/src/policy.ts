import { SIGNATURE_TYPE_COSIGNATURE_V1, SIGNATURE_TYPE_ED25519, parseVerifierKey, type NoteVerifier } from '@annal/note'
import { bytesEqual } from '@annal/tlog'
import { ClientError } from './errors.js'
import { decodeText, parseDecimal } from './internal/text.js'

/** A log the policy accepts checkpoints from (tlog-policy §Defining a log). */
export interface PolicyLog {
  /** The log's key; its name is the log's origin line. */
  readonly verifier: NoteVerifier
  readonly url: string | undefined
}

/** A witness (tlog-policy §Defining a witness), known in the policy by `name`. */
export interface PolicyWitness {
  readonly name: string
  /** A cosignature/v1 (0x04) key. */
  readonly verifier: NoteVerifier
  readonly url: string | undefined
}

/** What must have cosigned: nothing, one witness, or k of a group's members. */
export type Quorum =
  | { readonly kind: 'none' }
  | { readonly kind: 'witness'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string; readonly threshold: number; readonly members: readonly Quorum[] }

/** A parsed C2SP tlog-policy. */
export interface Policy {
  readonly logs: readonly PolicyLog[]
  readonly witnesses: readonly PolicyWitness[]
  readonly quorum: Quorum
}

// tlog-policy §Character set: tab, newline, printable ASCII and any non-ASCII octet.
const REFUSED_CHARACTER = /[\x00-\x08\x0a-\x1f\x7f]/
const BLANK = /^[ \t]*$/
const COMMENT = /^[ \t]*#/
const NONE = 'none'

class PolicyBuilder {
  readonly logs: PolicyLog[] = []
  readonly witnesses: PolicyWitness[] = []
  readonly names = new Map<string, Quorum>([[NONE, { kind: 'none' }]])
  readonly members = new Set<string>()
  quorum: Quorum | undefined
  /** The 1-based line being parsed, named in errors. */
  line = 0

  fail(message: string): never {
    throw new ClientError('POLICY_MALFORMED', message, { line: this.line })
  }

  key(vkey: string, type: number, what: string): NoteVerifier {
    let verifier: NoteVerifier
    try {
      verifier = parseVerifierKey(vkey)
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error
      throw new ClientError('POLICY_MALFORMED', `the ${what} key is not a valid vkey`, { line: this.line, cause: error })
    }
    if (verifier.type !== type) this.fail(`the ${what} key has the wrong signature type`)
    return verifier
  }

  log([vkey, url, ...rest]: string[]): void {
    if (vkey === undefined || rest.length > 0) this.fail('expected: log <vkey> [<url>]')
    const verifier = this.key(vkey, SIGNATURE_TYPE_ED25519, 'log')
    if (this.logs.some((log) => bytesEqual(log.verifier.publicKey, verifier.publicKey))) this.fail('duplicate log key')
    this.logs.push(Object.freeze({ verifier, url }))
  }

  witness([name, vkey, url, ...rest]: string[]): void {
    if (name === undefined || vkey === undefined || rest.length > 0) this.fail('expected: witness <name> <vkey> [<url>]')
    this.define(name)
    const verifier = this.key(vkey, SIGNATURE_TYPE_COSIGNATURE_V1, 'witness')
    if (this.witnesses.some((witness) => bytesEqual(witness.verifier.publicKey, verifier.publicKey))) {
      this.fail('duplicate witness key')
    }
    this.witnesses.push(Object.freeze({ name, verifier, url }))
    this.names.set(name, Object.freeze({ kind: 'witness', name }))
  }

  group([name, threshold, ...names]: string[]): void {
    if (name === undefined || threshold === undefined || names.length === 0) {
      this.fail('expected: group <name> all|any|<k> <name>...')
    }
    this.define(name)
    const members = names.map((member) => this.member(member))
    const k = threshold === 'all' ? members.length : threshold === 'any' ? 1 : parseDecimal(threshold)
    if (k === undefined || k < 1 || k > members.length) this.fail('the threshold must be all, any or k in 1..n')
    this.names.set(name, Object.freeze({ kind: 'group', name, threshold: k, members: Object.freeze(members) }))
  }

  setQuorum([name, ...rest]: string[]): void {
    if (name === undefined || rest.length > 0) this.fail('expected: quorum <name>')
    if (this.quorum !== undefined) this.fail('a second quorum line')
    this.quorum = this.lookup(name)
  }

  define(name: string): void {
    if (this.names.has(name)) this.fail(`the name ${JSON.stringify(name)} is already defined`)
  }

  lookup(name: string): Quorum {
    const quorum = this.names.get(name)
    if (quorum === undefined) this.fail(`${JSON.stringify(name)} is not defined on an earlier line`)
    return quorum
  }

  // tlog-policy §Defining a witness group: each name is a member at most once in the file.
  member(name: string): Quorum {
    if (name === NONE) this.fail('none cannot be a group member')
    const quorum = this.lookup(name)
    if (this.members.has(name)) this.fail(`${JSON.stringify(name)} is already a group member`)
    this.members.add(name)
    return quorum
  }
}

/**
 * Parses a C2SP tlog-policy strictly: every line ends in a newline; items are separated by
 * spaces and tabs; blank and `#` comment lines are skipped; `log <vkey> [<url>]` (Ed25519,
 * 0x01), `witness <name> <vkey> [<url>]` (cosignature/v1, 0x04), `group <name> all|any|<k>
 * <name>...` over names defined earlier, and exactly one `quorum <name>|none`. Keys used twice
 * (the same public key, whatever the name), names defined twice and names listed twice as
 * members are refused. Bytes must be UTF-8 (names are compared as exact strings).
 * Throws ClientError POLICY_MALFORMED with the 1-based `line`.
 */
export function parsePolicy(input: string | Uint8Array): Policy {
  const text = decodeText(input, 'POLICY_MALFORMED', 'the policy')
  const lines = text.split('\n')
  const last = lines.pop()
  if (last !== '') throw new ClientError('POLICY_MALFORMED', 'the last line does not end in a newline', { line: lines.length + 1 })
  const builder = new PolicyBuilder()
  lines.forEach((line, i) => {
    builder.line = i + 1
    parseLine(builder, line)
  })
  if (builder.quorum === undefined) {
    throw new ClientError('POLICY_MALFORMED', 'the policy has no quorum line', { line: Math.max(lines.length, 1) })
  }
  return Object.freeze({
    logs: Object.freeze(builder.logs), witnesses: Object.freeze(builder.witnesses), quorum: builder.quorum,
  })
}

function parseLine(builder: PolicyBuilder, line: string): void {
  if (REFUSED_CHARACTER.test(line)) builder.fail('a control character other than tab')
  if (BLANK.test(line) || COMMENT.test(line)) return
  const [keyword, ...items] = line.split(/[ \t]+/).filter((item) => item.length > 0)
  if (keyword === 'log') builder.log(items)
  else if (keyword === 'witness') builder.witness(items)
  else if (keyword === 'group') builder.group(items)
  else if (keyword === 'quorum') builder.setQuorum(items)
  else builder.fail('expected log, witness, group or quorum')
}

/**
 * True when the witnesses named in `cosigned` (those whose cosignatures verified) satisfy
 * `quorum`: `none` always; a witness when it cosigned; a group when at least `threshold` of
 * its members do (tlog-policy §Defining a witness group).
 */
export function quorumMet(quorum: Quorum, cosigned: ReadonlySet<string>): boolean {
  switch (quorum.kind) {
    case 'none': return true
    case 'witness': return cosigned.has(quorum.name)
    case 'group': return quorum.members.filter((member) => quorumMet(member, cosigned)).length >= quorum.threshold
  }
}

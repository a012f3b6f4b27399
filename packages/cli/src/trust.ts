import { isClientError, parsePolicy, type Policy } from '@annal/client'
import type { Command } from 'commander'
import type { Context } from './context.js'
import { UsageError } from './failure.js'
import { readInput } from './input.js'

/** What to trust, from --policy FILE or --key VKEY. */
export interface TrustOptions {
  readonly policy?: string
  readonly key?: string
}

/** Adds --policy and --key to a command. */
export function trustOptions(command: Command): Command {
  return command
    .option('--policy <file>', 'a C2SP tlog-policy file: the logs, witnesses and quorum to trust')
    .option('--key <vkey>', "the log's verifier key: short for a policy of that log and 'quorum none'")
}

/**
 * The policy --policy or --key names, or undefined when neither is given.
 * @throws UsageError for both, an unreadable file, or a policy that does not parse (naming its line).
 */
export async function readPolicy(ctx: Context, options: TrustOptions): Promise<Policy | undefined> {
  if (options.policy !== undefined && options.key !== undefined) throw new UsageError('pass --policy or --key, not both')
  if (options.key !== undefined) return keyPolicy(options.key, '--key')
  if (options.policy === undefined) return undefined
  const bytes = await readInput(ctx, options.policy, 'the policy')
  try {
    return parsePolicy(bytes)
  } catch (error) {
    if (!isClientError(error, 'POLICY_MALFORMED')) throw error
    throw new UsageError(`${options.policy} ${error.message}; fix that line of the policy`, { cause: error })
  }
}

/** `policy`, which `why` needs. @throws UsageError when neither --policy nor --key gave one. */
export function needPolicy(policy: Policy | undefined, why: string): Policy {
  if (policy === undefined) throw new UsageError(`${why}: pass --policy FILE or --key VKEY`)
  return policy
}

/**
 * The tlog-policy `log <vkey>` + `quorum none`. The key is checked to be one item first, so
 * that it cannot add lines to the policy. @throws UsageError when it is not an Ed25519 vkey.
 */
export function keyPolicy(vkey: string, from: string): Policy {
  const refused = (cause?: unknown) => new UsageError(`${from} must be a log verifier key (name+hash+base64, as 'annal init' prints)`, { cause })
  if (!/^[^\s#]+$/.test(vkey)) throw refused()
  try {
    return parsePolicy(`log ${vkey}\nquorum none\n`)
  } catch (error) {
    if (isClientError(error, 'POLICY_MALFORMED')) throw refused(error)
    throw error
  }
}

import { nodeEd25519, nodeHasher } from '@annal/crypto-node'
import { generateKeyPair, openCheckpoint, parseSignerKey, parseVerifierKey, signCheckpoint } from '@annal/note'
import { MemoryTree, bytesToHex, verifyConsistency, verifyInclusion } from '@annal/tlog'

const EVENTS = [
  { actor: 'alice@example.com', action: 'login', from: '198.51.100.7' },
  { actor: 'alice@example.com', action: 'grant', role: 'admin', to: 'bob@example.com' },
  { actor: 'bob@example.com', action: 'export', table: 'payments' },
  { actor: 'ci-bot', action: 'deploy', service: 'ledger', version: '1.4.2' },
  { actor: 'alice@example.com', action: 'revoke', role: 'admin', from: 'bob@example.com' },
]

/**
 * Appends example audit events to an in-memory tree, signs a C2SP checkpoint with a fresh
 * Ed25519 key, then proves and verifies inclusion and consistency the way a client would.
 */
export function runDemo(_args: readonly string[], out: (line: string) => void): number {
  const providers = { hash: nodeHasher.provider, signature: nodeEd25519 }
  const origin = 'demo.annal.example/audit'
  const keys = generateKeyPair(origin, { providers })
  const signer = parseSignerKey(keys.signerKey, { providers })
  const tree = new MemoryTree(nodeHasher)
  const utf8 = new TextEncoder()

  out(`Annal demo: an in-memory log named ${origin}\n`)
  const leaves = EVENTS.map((event) => nodeHasher.leaf(utf8.encode(JSON.stringify(event))))
  leaves.forEach((leaf, index) => {
    tree.append(leaf)
    out(`appended entry ${index}  id ${bytesToHex(leaf).slice(0, 12)}  ${JSON.stringify(EVENTS[index])}`)
  })

  const note = signCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] }, signer)
  out(`\nsigned checkpoint (C2SP tlog-checkpoint):\n\n${note}`)
  out(`log verifier key: ${keys.verifierKey}\n`)

  const checkpoint = openCheckpoint(note, [parseVerifierKey(keys.verifierKey, { providers })])
  verifyInclusion(1, checkpoint.size, leaves[1]!, tree.inclusionProof(1, checkpoint.size), checkpoint.rootHash, nodeHasher)
  out(`verified: entry 1 is in the tree of size ${checkpoint.size} (inclusion proof of ${tree.inclusionProof(1).length} hashes)`)
  verifyConsistency(3, checkpoint.size, tree.consistencyProof(3), tree.root(3), checkpoint.rootHash, nodeHasher)
  out(`verified: the tree of size ${checkpoint.size} extends the tree of size 3 (consistency proof of ${tree.consistencyProof(3).length} hashes)`)
  return 0
}

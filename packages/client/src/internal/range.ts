import { rootPlan, type MerkleHasher, type NodeId } from '@annal/tlog'

/** The perfect subtrees that make up a tree of `size` leaves, largest (leftmost) first. */
export function edgeNodes(size: number): readonly NodeId[] {
  return size === 0 ? [] : rootPlan(size).elements[0]!
}

/**
 * RFC 6962 MTH of the tree whose first leaves are covered by `edge` (the hashes of
 * edgeNodes(size), in order) and whose next leaves are `leafHashes`. Leaves are merged as a
 * binary counter carries, so each perfect subtree is hashed as the tree defines it.
 */
export function rootFromEdge(size: number, edge: readonly Uint8Array[], leafHashes: readonly Uint8Array[],
    hasher: MerkleHasher): Uint8Array {
  const stack = edgeNodes(size).map((node, i) => ({ level: node.level, hash: edge[i]! }))
  for (const leafHash of leafHashes) {
    let top = { level: 0, hash: leafHash }
    while (stack.length > 0 && stack.at(-1)!.level === top.level) {
      const left = stack.pop()!
      top = { level: top.level + 1, hash: hasher.node(left.hash, top.hash) }
    }
    stack.push(top)
  }
  if (stack.length === 0) return hasher.emptyRoot
  let root = stack.pop()!.hash
  while (stack.length > 0) root = hasher.node(stack.pop()!.hash, root)
  return root
}

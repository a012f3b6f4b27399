import { MemoryTree, bytesToHex, defaultHasher } from '@annal/tlog'
import { expect, it } from 'vitest'
import { edgeNodes, rootFromEdge } from './range.js'

it('recomputes every root of a tree from the edge of every smaller one and the leaves between', () => {
  const tree = new MemoryTree()
  const leaves = Array.from({ length: 70 }, (_, i) => defaultHasher.leaf(new TextEncoder().encode(`entry ${i}`)))
  for (const leaf of leaves) tree.append(leaf)
  for (let to = 0; to <= leaves.length; to++) {
    for (let from = 0; from <= to; from++) {
      const edge = edgeNodes(from).map((node) => tree.nodeHash(node))
      const root = rootFromEdge(from, edge, leaves.slice(from, to), defaultHasher)
      expect(bytesToHex(root), `${from}..${to}`).toBe(bytesToHex(tree.root(to)))
    }
  }
})

import { defaultHasher } from './hash.js'
import { merkleSuite } from './testing/merkle.suite.js'
import { tilesSuite } from './testing/tiles.suite.js'

merkleSuite(defaultHasher)
tilesSuite(defaultHasher)

import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { keysSuite } from './testing/keys.suite.js'

keysSuite({ hash: nobleHashProvider, signature: nobleEd25519 })

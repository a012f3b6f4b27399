import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { cosignatureSuite } from './testing/cosignature.suite.js'

cosignatureSuite({ hash: nobleHashProvider, signature: nobleEd25519 })

import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { cosignaturePropertySuite } from './testing/cosignature.prop.suite.js'

cosignaturePropertySuite({ hash: nobleHashProvider, signature: nobleEd25519 })

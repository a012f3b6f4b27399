import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { signatureProviderSuite } from './testing/ed25519.suite.js'

signatureProviderSuite({ hash: nobleHashProvider, signature: nobleEd25519 })

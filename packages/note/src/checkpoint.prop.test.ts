import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { checkpointPropertySuite } from './testing/checkpoint.prop.suite.js'

checkpointPropertySuite({ hash: nobleHashProvider, signature: nobleEd25519 })

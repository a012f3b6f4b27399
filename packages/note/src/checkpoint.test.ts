import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { checkpointSuite } from './testing/checkpoint.suite.js'

checkpointSuite({ hash: nobleHashProvider, signature: nobleEd25519 })

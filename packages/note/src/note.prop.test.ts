import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { notePropertySuite } from './testing/note.prop.suite.js'

notePropertySuite({ hash: nobleHashProvider, signature: nobleEd25519 })

import { nobleHashProvider } from '@annal/tlog'
import { nobleEd25519 } from './ed25519.js'
import { noteSuite } from './testing/note.suite.js'

noteSuite({ hash: nobleHashProvider, signature: nobleEd25519 })

// Every provider-parameterized suite of @annal/note, for packages that bring their own
// providers (e.g. @annal/crypto-node) to rerun: `@annal/note/testing`. Not part of the build.
import { checkpointPropertySuite } from './checkpoint.prop.suite.js'
import { checkpointSuite } from './checkpoint.suite.js'
import { cosignaturePropertySuite } from './cosignature.prop.suite.js'
import { cosignatureSuite } from './cosignature.suite.js'
import { signatureProviderSuite } from './ed25519.suite.js'
import type { SuiteProviders } from './helpers.js'
import { keysSuite } from './keys.suite.js'
import { notePropertySuite } from './note.prop.suite.js'
import { noteSuite } from './note.suite.js'

export {
  checkpointPropertySuite, checkpointSuite, cosignaturePropertySuite, cosignatureSuite, keysSuite,
  notePropertySuite, noteSuite, signatureProviderSuite,
}
export type { SuiteProviders }

/** Registers every suite with `providers`. */
export function noteConformanceSuites(providers: SuiteProviders): void {
  signatureProviderSuite(providers)
  keysSuite(providers)
  noteSuite(providers)
  notePropertySuite(providers)
  checkpointSuite(providers)
  checkpointPropertySuite(providers)
  cosignatureSuite(providers)
  cosignaturePropertySuite(providers)
}

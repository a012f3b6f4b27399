// The hasher-parameterized suites of @annal/tlog, for packages that bring their own SHA-256
// (e.g. @annal/crypto-node) to rerun: `@annal/tlog/testing`. Not part of the build.
export { merkleSuite } from './merkle.suite.js'
export { tilesSuite } from './tiles.suite.js'

/**
 * @module
 * The Node side of `@annal/client`, apart from its pure core so that the core still runs in
 * browsers: a monitor state kept in a file (`FileStateStore`), written atomically and locked
 * to one process at a time, and split-view evidence saved to a file (`writeEvidence`) and read
 * back (`readEvidence`).
 */
export { FileStateStore } from './file-state.js'
export { readEvidence, writeEvidence } from './evidence.js'

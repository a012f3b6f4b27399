/**
 * @module
 * The Node side of `@annal/client`, apart from its pure core so that the core still runs in
 * browsers: a monitor state kept in a file (`FileStateStore`), written atomically and locked
 * to one process at a time.
 */
export { FileStateStore } from './file-state.js'

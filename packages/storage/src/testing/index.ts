export { driverSuite } from './driver.suite.js'
export { FaultDriver, Faults, levelIoError, noSpaceError } from './fault-driver.js'
export { smallFilesystem } from './small-filesystem.js'
export type { SmallFilesystem } from './small-filesystem.js'

export { driverSuite } from './driver.suite.js'
export { FaultDriver, noSpaceError } from './fault-driver.js'

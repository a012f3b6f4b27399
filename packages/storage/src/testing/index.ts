export { driverSuite } from './driver.suite.js'

export { readBody } from './body.js'
export type { BodySource } from './body.js'

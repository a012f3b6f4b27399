export { readBody, requestBody } from './body.js'
export type { BodySource, IncomingBody, RequestContext } from './body.js'

export { readBody, requestBody } from './body.js'
export type { BodyOptions, BodySource, IncomingBody, RequestContext } from './body.js'

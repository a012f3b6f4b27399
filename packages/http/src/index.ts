/**
 * @module
 * Request and response bodies read within a byte limit and a deadline, shared by the Annal HTTP
 * services: `requestBody` for a Hono route (straight from Node's IncomingMessage when served by
 * @hono/node-server), `readBody` for any Request or Response. Over the limit is BodyError
 * BODY_TOO_LARGE; too slow, BODY_TIMEOUT; broken off, BODY_MALFORMED. `problemBody` builds the
 * RFC 9457 answer both services give, from the code table each supplies.
 * @example
 * import { readBody } from '@annal/http'
 *
 * const body = await readBody(new Response('{"ok":true}'), 1024)
 * if (new TextDecoder().decode(body) !== '{"ok":true}') throw new Error('not the body')
 * const refused = await readBody(new Response('x'.repeat(2048)), 1024).catch((error: { code?: string }) => error.code)
 * if (refused !== 'BODY_TOO_LARGE') throw new Error('a body over the limit was read')
 */
export { readBody, requestBody } from './body.js'
export { BODY_ERROR_CODES, BodyError, isBodyError } from './errors.js'
export type { BodyErrorCode } from './errors.js'
export { INTERNAL_PROBLEM, PROBLEM_TYPE_BASE, problemBody, problemHeaders } from './problem.js'
export type { Problem, ProblemBody } from './problem.js'
export type { BodyOptions, BodySource, IncomingBody, RequestContext } from './body.js'

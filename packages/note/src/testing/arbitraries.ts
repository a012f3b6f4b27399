import fc from 'fast-check'
import { isValidKeyName } from '../scheme.js'

const CONTROL = /[\u0000-\u0009\u000B-\u001F]/g

/** One line of note text: any Unicode without control characters or newlines. */
export const lineArb = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(CONTROL, '').replaceAll('\n', ''))

export const nonEmptyLineArb = lineArb.filter((s) => s.length > 0)

/** Note text: lines (possibly empty) each ending in a newline. */
export const noteTextArb = fc.array(lineArb, { minLength: 1, maxLength: 6 }).map((lines) => lines.join('\n') + '\n')

export const keyNameArb = fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).filter(isValidKeyName)

export const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 })

export const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 })

import { expect, it } from 'vitest'
import { parsePrometheus, sampleValue } from './prometheus.js'

it('parses samples, labels with escapes, and +Inf', () => {
  const samples = parsePrometheus([
    '# HELP a_total A counter.', '# TYPE a_total counter',
    'a_total{log="x",outcome="appended"} 3', 'a_total{log="q\\"\\\\\\n",outcome="appended"} 1',
    'h_bucket{le="+Inf"} 7', 'g 0.5', '',
  ].join('\n'))
  expect(sampleValue(samples, 'a_total', { log: 'x' })).toBe(3)
  expect(sampleValue(samples, 'a_total', { log: 'q"\\\n' })).toBe(1)
  expect(sampleValue(samples, 'h_bucket', { le: '+Inf' })).toBe(7)
  expect(sampleValue(samples, 'g')).toBe(0.5)
  expect(sampleValue(samples, 'missing')).toBeUndefined()
  expect(() => sampleValue(samples, 'a_total')).toThrow(/2 samples/)
  expect(() => parsePrometheus('what is this')).toThrow(/not a sample/)
})

import { it } from 'vitest'
import { runModuleExample } from '../../../scripts/module-example.js'

it('runs the example in the module doc', async () => {
  await runModuleExample(new URL('./index.ts', import.meta.url))
})

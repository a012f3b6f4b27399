import type { ViteUserConfig } from 'vitest/config'

/** Shared by every package: workspace packages resolve to their TypeScript sources, so tests never run against a stale build. */
export const base: ViteUserConfig = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['src/**/*.test.ts', '*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // Long enough for any test on a busy two-core machine, short enough to flag a hang soon;
    // a test that needs more is too slow for the suite, not a reason to raise this.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
}

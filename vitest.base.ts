import type { ViteUserConfig } from 'vitest/config'

/** Shared by every package: workspace packages resolve to their TypeScript sources, so tests never run against a stale build. */
export const base: ViteUserConfig = {
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['src/**/*.test.ts', '*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // Exhaustive and property tests over trees of up to 2^20 leaves take seconds, not millis.
    testTimeout: 120_000,
  },
}

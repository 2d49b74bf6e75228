import { defineConfig } from 'vitest/config';

/** CPU-heavy suites run after the rest, alone, so they never starve the timing-sensitive tests. */
const HEAVY = ['test/audit/**/*.test.ts', 'test/sidecar/adversary.test.ts'];

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: HEAVY, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'heavy', include: HEAVY, sequence: { groupOrder: 1 } },
      },
    ],
  },
});

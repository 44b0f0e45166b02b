import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Root tests share host resources (cgroups, links): run files one at a time.
    fileParallelism: false,
  },
});

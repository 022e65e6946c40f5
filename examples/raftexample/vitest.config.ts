import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The machines that run CI are small and shared: allow slow moments.
    testTimeout: 30_000,
  },
});

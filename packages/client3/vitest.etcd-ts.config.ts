import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The client suite a second time, against etcd-ts's own server (apps/etcd, built first:
 * a devDependency) instead of Debian's etcd 3.4: `startEtcd` and the failover suite's
 * three-member cluster run ETCD_BIN. The unit tests under src/ ran in the first pass.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    env: {
      ETCD_BIN: fileURLToPath(new URL('../../apps/etcd/bin/etcd', import.meta.url)),
    },
  },
});

import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@etcd-ts/client3';
import { realEtcdAvailable, startEtcd } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import { OUR_ETCDCTL, REAL_ETCDCTL_BIN, runCtl } from './twin.js';

describe.skipIf(!realEtcdAvailable() || !realEtcdAvailable(REAL_ETCDCTL_BIN))(
  'defrag --data-dir',
  () => {
    it('compacts a stopped member’s backend that etcd then serves unchanged', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'etcdctl-defrag-'));
      try {
        const original = join(dir, 'original');
        const etcd = await startEtcd({ dataDir: original });
        const client = new Client({ endpoints: [etcd.endpoint] });
        for (let i = 0; i < 200; i++) await client.put(`k/${i % 20}`, 'v'.repeat(i));
        client.close();
        await runCtl(OUR_ETCDCTL, [`--endpoints=${etcd.endpoint}`, 'del', 'k/1']);
        const before = await runCtl(OUR_ETCDCTL, [
          `--endpoints=${etcd.endpoint}`,
          'get',
          'k/',
          '--prefix',
          '-w',
          'json',
        ]);
        await etcd.stop();
        const realCopy = join(dir, 'real');
        const oursCopy = join(dir, 'ours');
        await cp(original, realCopy, { recursive: true });
        await cp(original, oursCopy, { recursive: true });
        const [a, b] = await Promise.all([
          runCtl(REAL_ETCDCTL_BIN, ['defrag', `--data-dir=${realCopy}`]),
          runCtl(OUR_ETCDCTL, ['defrag', `--data-dir=${oursCopy}`]),
        ]);
        expect(b).toEqual(a);
        const restarted = await startEtcd({ dataDir: oursCopy });
        try {
          const after = await runCtl(OUR_ETCDCTL, [
            `--endpoints=${restarted.endpoint}`,
            'get',
            'k/',
            '--prefix',
            '-w',
            'json',
          ]);
          const strip = (s: string) => s.replace(/"header":\{[^}]*\}/, '');
          expect(strip(after.stdout)).toBe(strip(before.stdout));
        } finally {
          await restarted.stop();
        }
        // (etcdctl 3.4 panics on a missing db; ours reports it.)
        const missing = await runCtl(OUR_ETCDCTL, ['defrag', `--data-dir=${join(dir, 'missing')}`]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toContain('Failed to defragment etcd data');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);

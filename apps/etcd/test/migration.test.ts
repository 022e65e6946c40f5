// An etcd 3.4 data dir, as etcd left it, started by etcd-ts: member/snap/db (bbolt) is
// imported, the WAL (etcd's format) replayed from the backend's consistent index.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN, run } from './helpers.js';

const haveEtcd = realEtcdAvailable(DEBIAN_ETCD_BIN) && realEtcdAvailable(DEBIAN_ETCDCTL_BIN);

async function ctl(endpoint: string, args: string[]): Promise<string> {
  const r = await run(DEBIAN_ETCDCTL_BIN, [`--endpoints=${endpoint}`, ...args]);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!haveEtcd)('an etcd 3.4 data dir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-migration-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts etcd-ts with every key, revision and member, and takes writes', async () => {
    const dataDir = join(dir, 'data');
    const real = await startEtcd({ bin: DEBIAN_ETCD_BIN, dataDir });
    let before: string;
    let members: string;
    try {
      for (let i = 0; i < 20; i++) await ctl(real.endpoint, ['put', `m/${i}`, `v${i}`]);
      await ctl(real.endpoint, ['del', 'm/4']);
      await ctl(real.endpoint, ['put', 'm/1', 'again']);
      before = await ctl(real.endpoint, ['get', 'm/', '--prefix', '-w', 'json']);
      members = await ctl(real.endpoint, ['member', 'list', '-w', 'json']);
    } finally {
      await real.stop();
    }
    const ours = await startEtcd({ bin: ETCD_TS_BIN, dataDir });
    try {
      const strip = (json: string) => {
        const o = JSON.parse(json) as { header: Record<string, unknown> };
        const { revision, cluster_id, member_id } = o.header;
        return { ...o, header: { revision, cluster_id, member_id } };
      };
      const after = await ctl(ours.endpoint, ['get', 'm/', '--prefix', '-w', 'json']);
      expect(strip(after)).toEqual(strip(before));
      const list = (json: string) =>
        (
          JSON.parse(json) as { members: { ID: unknown; name: string; peerURLs: string[] }[] }
        ).members.map((m) => [String(m.ID), m.name, m.peerURLs]);
      expect(list(await ctl(ours.endpoint, ['member', 'list', '-w', 'json']))).toEqual(
        list(members),
      );
      const put = JSON.parse(await ctl(ours.endpoint, ['put', 'm/new', 'x', '-w', 'json'])) as {
        header: { revision: number };
      };
      expect(put.header.revision).toBe((strip(before).header.revision as number) + 1);
    } finally {
      await ours.stop();
    }
  }, 90_000);
});

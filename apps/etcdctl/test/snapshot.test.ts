// Migration both ways through etcd's snapshot file, with real processes: etcd-ts's
// Snapshot RPC is saved by our etcdctl and Debian's etcdctl 3.4, both read it alike,
// both restore it, and etcd-ts and Debian's etcd 3.4 start from what they restore; a real
// etcd 3.4 snapshot restored the same way starts etcd-ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  type EtcdProcess,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUR_ETCDCTL, runCtl as run } from './twin.js';

/** apps/etcd's executable (built before these tests: a devDependency). */
const ETCD_TS_BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'etcd',
  'bin',
  'etcd',
);
const CTLS = { ours: OUR_ETCDCTL, debian: DEBIAN_ETCDCTL_BIN } as const;
type Ctl = keyof typeof CTLS;

const haveEtcd = realEtcdAvailable(DEBIAN_ETCD_BIN) && realEtcdAvailable(DEBIAN_ETCDCTL_BIN);

async function ctl(which: Ctl, args: string[]): Promise<string> {
  const r = await run(CTLS[which], args);
  if (r.code !== 0)
    throw new Error(`${which} etcdctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface KvDump {
  revision: number;
  kvs: { key: string; value: string; create: number; mod: number; version: number }[];
}

/** Every key with its revisions, and the store's revision, through Debian's etcdctl. */
async function dump(endpoint: string): Promise<KvDump> {
  const out = JSON.parse(
    await ctl('debian', [`--endpoints=${endpoint}`, 'get', '', '--from-key', '-w', 'json']),
  ) as {
    header: { revision: number };
    kvs?: {
      key: string;
      value?: string;
      create_revision: number;
      mod_revision: number;
      version: number;
    }[];
  };
  return {
    revision: out.header.revision,
    kvs: (out.kvs ?? []).map((kv) => ({
      key: Buffer.from(kv.key, 'base64').toString(),
      value: Buffer.from(kv.value ?? '', 'base64').toString(),
      create: kv.create_revision,
      mod: kv.mod_revision,
      version: kv.version,
    })),
  };
}

/** Some history: puts, overwrites, a delete, a compaction. */
async function load(endpoint: string): Promise<void> {
  const ep = `--endpoints=${endpoint}`;
  for (let i = 0; i < 25; i++) await ctl('debian', [ep, 'put', `mig/${i}`, `value-${i}`]);
  await ctl('debian', [ep, 'put', 'mig/3', 'again']);
  await ctl('debian', [ep, 'del', 'mig/7']);
  await ctl('debian', [ep, 'compaction', '20']);
  await ctl('debian', [ep, 'put', 'big', 'x'.repeat(10_000)]);
}

interface Status {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}
const status = async (which: Ctl, file: string): Promise<Status> =>
  JSON.parse(await ctl(which, ['snapshot', 'status', file, '-w', 'json'])) as Status;

const restore = (which: Ctl, file: string, dataDir: string) =>
  ctl(which, ['snapshot', 'restore', file, `--data-dir=${dataDir}`, '--name=default']);

/** Starts `bin` on `dataDir`, checks it serves `want` and takes writes, stops it. */
async function serves(bin: string, dataDir: string, want: KvDump): Promise<void> {
  const etcd = await startEtcd({ bin, dataDir, startTimeoutMs: 30_000 });
  try {
    expect(await dump(etcd.endpoint)).toEqual(want);
    const ep = `--endpoints=${etcd.endpoint}`;
    await ctl('debian', [ep, 'put', 'after-restore', 'yes']);
    const after = await dump(etcd.endpoint);
    expect(after.revision).toBe(want.revision + 1);
    expect(after.kvs.find((kv) => kv.key === 'after-restore')?.mod).toBe(want.revision + 1);
    // The compaction came along: revisions before it are gone.
    const old = await run(DEBIAN_ETCDCTL_BIN, [ep, 'get', 'mig/0', '--rev=5']);
    expect(old.stderr).toContain('required revision has been compacted');
  } finally {
    await etcd.stop();
  }
}

describe.skipIf(!haveEtcd)("etcd's snapshot file between etcd-ts and etcd 3.4", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-snapshot-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a snapshot of etcd-ts: saved, read, restored by both etcdctls; both etcds start from it', async () => {
    const ours = await startEtcd({ bin: ETCD_TS_BIN });
    let want: KvDump;
    try {
      await load(ours.endpoint);
      want = await dump(ours.endpoint);
      for (const which of ['ours', 'debian'] as const) {
        const out = await ctl(which, [
          `--endpoints=${ours.endpoint}`,
          'snapshot',
          'save',
          join(dir, `from-ts-${which}.db`),
        ]);
        expect(out).toContain('Snapshot saved at');
      }
    } finally {
      await ours.stop();
    }
    // Both etcdctls report the same status of both files (the stream is deterministic).
    const statuses: Status[] = [];
    for (const file of ['from-ts-ours.db', 'from-ts-debian.db'])
      for (const which of ['ours', 'debian'] as const)
        statuses.push(await status(which, join(dir, file)));
    for (const s of statuses) expect(s).toEqual(statuses[0]);
    expect(statuses[0]!.revision).toBe(want.revision);

    for (const which of ['ours', 'debian'] as const) {
      const restored = join(dir, `ts-restored-by-${which}`);
      await restore(which, join(dir, `from-ts-${which}.db`), restored);
      await serves(ETCD_TS_BIN, restored, want);
      // Migration back: Debian's etcd 3.4 starts from the same snapshot restored afresh.
      const forReal = join(dir, `ts-restored-by-${which}-for-etcd34`);
      await restore(which, join(dir, `from-ts-${which}.db`), forReal);
      await serves(DEBIAN_ETCD_BIN, forReal, want);
    }
  }, 180_000);

  it('a snapshot of etcd 3.4, restored by both etcdctls, starts etcd-ts with its keys and revision', async () => {
    const real = await startEtcd({ bin: DEBIAN_ETCD_BIN });
    let want: KvDump;
    const file = join(dir, 'from-etcd34.db');
    try {
      await load(real.endpoint);
      want = await dump(real.endpoint);
      await ctl('debian', [`--endpoints=${real.endpoint}`, 'snapshot', 'save', file]);
    } finally {
      await real.stop();
    }
    expect(await status('ours', file)).toEqual(await status('debian', file));
    for (const which of ['ours', 'debian'] as const) {
      const restored = join(dir, `etcd34-restored-by-${which}`);
      await restore(which, file, restored);
      await serves(ETCD_TS_BIN, restored, want);
    }
  }, 180_000);

  it('etcd-ts restarts on its restored, imported data dir and keeps serving it', async () => {
    const restored = join(dir, 'ts-restored-by-ours');
    let etcd: EtcdProcess | undefined;
    try {
      etcd = await startEtcd({ bin: ETCD_TS_BIN, dataDir: restored });
      const d = await dump(etcd.endpoint);
      expect(d.kvs.find((kv) => kv.key === 'after-restore')?.value).toBe('yes');
      const members = await ctl('debian', [
        `--endpoints=${etcd.endpoint}`,
        'member',
        'list',
        '-w',
        'json',
      ]);
      // The restored cluster's one member (default, http://localhost:2380), not the old one.
      const list = JSON.parse(members) as { members: { name: string; peerURLs: string[] }[] };
      expect(list.members.map((m) => [m.name, m.peerURLs])).toEqual([
        ['default', ['http://localhost:2380']],
      ]);
    } finally {
      await etcd?.stop();
    }
  }, 60_000);
});

// The acceptance test of the format: files written here are read by the real etcd 3.4
// tools (etcdctl's `snapshot status` runs bbolt's consistency check; `snapshot restore`
// and etcd itself open them with bbolt), and files real etcd wrote are read here.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BoltBucketInput, BoltReader, writeBoltBytes } from '../src/index.js';

const run = promisify(execFile);
const haveEtcd = realEtcdAvailable(DEBIAN_ETCD_BIN) && realEtcdAvailable(DEBIAN_ETCDCTL_BIN);
const etcdctl = (args: string[]) =>
  run(DEBIAN_ETCDCTL_BIN, args, { env: { ...process.env, ETCDCTL_API: '3' } });

interface Status {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}
const status = async (file: string): Promise<Status> =>
  JSON.parse((await etcdctl(['snapshot', 'status', file, '-w', 'json'])).stdout) as Status;

describe.skipIf(!haveEtcd)('bbolt files and etcd 3.4', () => {
  let dir: string;
  let snapshot: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bbolt-etcd34-'));
    const etcd = await startEtcd({ bin: DEBIAN_ETCD_BIN });
    try {
      const ep = `--endpoints=${etcd.endpoint}`;
      for (let i = 0; i < 40; i++) await etcdctl([ep, 'put', `key-${i}`, `value-${i}`.repeat(i)]);
      await etcdctl([ep, 'put', 'big', 'x'.repeat(20_000)]);
      await etcdctl([ep, 'del', 'key-3']);
      snapshot = join(dir, 'etcd34.db');
      await etcdctl([ep, 'snapshot', 'save', snapshot]);
    } finally {
      await etcd.stop();
    }
  }, 120_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('reads a snapshot etcd 3.4 wrote: sound pages, etcd buckets, the latest revision', async () => {
    const db = BoltReader.open(snapshot);
    try {
      expect(db.check()).toEqual([]);
      const names = [...db.buckets()].map((b) => Buffer.from(b.name).toString());
      expect(names).toEqual(expect.arrayContaining(['key', 'meta', 'members', 'lease', 'alarm']));
      const keys = [...db.bucket('key')!.pairs()];
      const last = keys[keys.length - 1]![0];
      const st = await status(snapshot);
      expect(Number(Buffer.from(last).readBigUInt64BE(0))).toBe(st.revision);
      expect(db.size).toBe(st.totalSize);
    } finally {
      db.close();
    }
  });

  it('writes a file etcdctl 3.4 checks, restores and etcd 3.4 serves', async () => {
    const source = BoltReader.open(snapshot);
    const buckets: BoltBucketInput[] = [...source.buckets()].map((b) => {
      const pairs = [...b.pairs()].map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const);
      return { name: Buffer.from(b.name), entries: () => pairs };
    });
    source.close();
    const body = writeBoltBytes(buckets);
    const ours = join(dir, 'ours.db');
    await writeFile(ours, Buffer.concat([body, createHash('sha256').update(body).digest()]));

    const want = await status(snapshot);
    const got = await status(ours);
    expect({ ...got, totalSize: 0 }).toEqual({ ...want, totalSize: 0 });
    expect(got.totalSize).toBe(body.length);
    expect(got.totalSize).toBeLessThanOrEqual(want.totalSize);

    const dataDir = join(dir, 'restored.etcd');
    await etcdctl(['snapshot', 'restore', ours, `--data-dir=${dataDir}`, '--name=default']);
    // The restored backend is still a bbolt file this package reads and finds sound.
    const restored = BoltReader.open(join(dataDir, 'member', 'snap', 'db'));
    expect(restored.check()).toEqual([]);
    restored.close();
    const etcd = await startEtcd({ bin: DEBIAN_ETCD_BIN, dataDir });
    try {
      const ep = `--endpoints=${etcd.endpoint}`;
      const got5 = (await etcdctl([ep, 'get', 'key-5', '--print-value-only'])).stdout.trim();
      expect(got5).toBe('value-5'.repeat(5));
      expect((await etcdctl([ep, 'get', 'key-3', '-w', 'json'])).stdout).toContain(
        `"revision":${want.revision}`,
      );
      await etcdctl([ep, 'put', 'after-restore', 'yes']);
      const big = (await etcdctl([ep, 'get', 'big', '--print-value-only'])).stdout.trim();
      expect(big.length).toBe(20_000);
    } finally {
      await etcd.stop();
    }
    expect((await readFile(ours)).length % 512).toBe(32);
  }, 120_000);
});

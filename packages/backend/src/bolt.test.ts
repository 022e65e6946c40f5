import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BoltReader, bucketsFromEntries, writeBoltBytes } from '@etcd-ts/bbolt';
import {
  DEBIAN_ETCD_BIN,
  DEBIAN_ETCDCTL_BIN,
  realEtcdAvailable,
  startEtcd,
} from '@etcd-ts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Backend } from './backend.js';
import { boltSnapshotFormat, importBoltDb, isBoltFile, restoreFromBolt } from './bolt.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-bolt-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const b = (s: string) => Buffer.from(s);
const rev = (main: number) => {
  const k = Buffer.alloc(17);
  k.writeBigUInt64BE(BigInt(main), 0);
  k[8] = 0x5f;
  return k;
};

async function fill(be: Backend, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    be.lock();
    be.put('key', rev(i), Buffer.alloc(100 + (i % 7) * 50, i));
    be.unlock();
  }
  be.lock();
  be.put('meta', b('consistent_index'), Buffer.alloc(8, 9));
  be.createBucket('members');
  be.createBucket('alarm');
  be.unlock();
  be.forceCommit();
}

describe('boltSnapshotFormat', () => {
  it('streams a consistent bbolt file of every bucket, in bounded chunks', async () => {
    const be = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
    await fill(be, 3000);
    const snap = be.snapshot();
    // Writes after the snapshot was taken are not in it.
    be.lock();
    be.put('key', rev(9999), b('later'));
    be.unlock();
    be.forceCommit();
    const chunks: Uint8Array[] = [];
    for await (const c of snap.chunks(boltSnapshotFormat)) chunks.push(c);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(64 * 1024 + 4096);
    const file = Buffer.concat(chunks);
    const db = BoltReader.fromBytes(file);
    expect(db.check()).toEqual([]);
    expect([...db.buckets()].map((x) => Buffer.from(x.name).toString())).toEqual([
      'alarm',
      'key',
      'members',
      'meta',
    ]);
    const keys = [...db.bucket('key')!.pairs()];
    expect(keys.length).toBe(3000);
    expect(Buffer.from(keys[41]![0]).equals(rev(42))).toBe(true);
    expect(Buffer.from(keys[41]![1]).equals(Buffer.alloc(100 + (42 % 7) * 50, 42))).toBe(true);
    await be.close();
  });
});

describe('importBoltDb', () => {
  it('converts a bbolt file in place into a backend with the same buckets and bytes', async () => {
    const source = Backend.open({ path: path.join(dir, 'src'), batchInterval: 0, noSync: true });
    await fill(source, 2000);
    const hash = source.hash([]);
    const chunks: Uint8Array[] = [];
    for await (const c of source.snapshot().chunks(boltSnapshotFormat)) chunks.push(c);
    await source.close();
    const target = path.join(dir, 'member', 'snap', 'db');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, Buffer.concat(chunks));
    expect(isBoltFile(target)).toBe(true);

    const imported = await importBoltDb({ path: target, noSync: true });
    expect(imported).toEqual({ buckets: 4, entries: 2001 });
    expect(isBoltFile(target)).toBe(false);
    expect(fs.readdirSync(path.dirname(target)).sort()).toEqual(['db']);
    const be = Backend.open({ path: target, batchInterval: 0, noSync: true });
    expect(be.bucketNames()).toEqual(['alarm', 'key', 'members', 'meta']);
    expect(be.hash([])).toBe(hash);
    await be.close();
  });

  it('leaves the bbolt file untouched when the import fails, and cleans up after itself', async () => {
    const target = path.join(dir, 'db');
    // A key longer than LMDB's key limit cannot be imported.
    const file = writeBoltBytes(
      bucketsFromEntries([{ name: 'auth', entries: [[Buffer.alloc(3000, 1), b('x')]] }]),
    );
    fs.writeFileSync(target, file);
    await expect(importBoltDb({ path: target, noSync: true })).rejects.toThrow();
    expect(fs.readFileSync(target).equals(Buffer.from(file))).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['db']);
  });

  const haveEtcd = realEtcdAvailable(DEBIAN_ETCD_BIN);
  it.skipIf(!haveEtcd)(
    'imports the backend real etcd 3.4 wrote (member/snap/db)',
    async () => {
      const etcd = await startEtcd({ bin: DEBIAN_ETCD_BIN, dataDir: path.join(dir, 'etcd') });
      const run = promisify(execFile);
      for (let i = 0; i < 20; i++)
        await run(DEBIAN_ETCDCTL_BIN, [`--endpoints=${etcd.endpoint}`, 'put', `k${i}`, `v${i}`], {
          env: { ...process.env, ETCDCTL_API: '3' },
        });
      await etcd.stop();
      const db = path.join(dir, 'etcd', 'member', 'snap', 'db');
      const reader = BoltReader.open(db);
      const want = [...reader.buckets()].map((x) => ({
        name: Buffer.from(x.name).toString(),
        entries: [...x.pairs()].map(([k, v]) => Buffer.concat([k, b('='), v]).toString('hex')),
      }));
      reader.close();
      await importBoltDb({ path: db, noSync: true });
      const be = Backend.open({ path: db, batchInterval: 0, noSync: true });
      const got = be.bucketNames().map((name) => ({
        name,
        entries: [] as string[],
      }));
      for (const g of got)
        be.forEach(g.name, (k, v) => {
          g.entries.push(Buffer.concat([k, b('='), Buffer.from(v)]).toString('hex'));
          return true;
        });
      expect(got).toEqual(want);
      expect(got.find((x) => x.name === 'key')!.entries.length).toBe(20);
      await be.close();
    },
    60_000,
  );
});

describe('restoreFromBolt', () => {
  it("replaces an open backend's contents with a snapshot's, discarding its open batch", async () => {
    const leader = Backend.open({ path: path.join(dir, 'leader'), batchInterval: 0, noSync: true });
    await fill(leader, 500);
    const snapFile = path.join(dir, '0000000000000010.snap.db');
    const chunks: Uint8Array[] = [];
    for await (const c of leader.snapshot().chunks(boltSnapshotFormat)) chunks.push(c);
    fs.writeFileSync(snapFile, Buffer.concat(chunks));
    await leader.close();

    const dbPath = path.join(dir, 'follower');
    const follower = Backend.open({ path: dbPath, batchInterval: 0, noSync: true });
    follower.lock();
    follower.put('key', rev(1), b('stale'));
    follower.put('lease', b('old-lease'), b('x'));
    follower.unlock();
    follower.forceCommit();
    // A write still in the batch: older than the snapshot, so it must not survive it.
    follower.lock();
    follower.put('key', rev(7777), b('pending'));
    follower.unlock();
    const result = await restoreFromBolt(follower, snapFile, { noSync: true });
    expect(result.entries).toBe(501);
    const check = (be: Backend) => {
      expect(be.bucketNames()).toEqual(['alarm', 'key', 'members', 'meta']);
      expect(be.committedCount('key')).toBe(500);
      expect(be.get('key', rev(1))?.equals(Buffer.alloc(150, 1))).toBe(true);
      expect(be.get('key', rev(7777))).toBeUndefined();
    };
    check(follower);
    // Writes go to the new file and everything survives a reopen.
    follower.lock();
    follower.put('key', rev(501), b('after'));
    follower.unlock();
    await follower.close();
    expect(fs.existsSync(`${dbPath}.restoring`)).toBe(false);
    const reopened = Backend.open({ path: dbPath, batchInterval: 0, noSync: true });
    expect(reopened.get('key', rev(501))?.toString()).toBe('after');
    expect(reopened.get('lease', b('old-lease'))).toBeUndefined();
    await reopened.close();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Backend, type BackendConfig, KeyTooLargeError, MAX_KEY_BYTES } from './backend.js';
import { BackendQuota, costPut, DEFAULT_QUOTA_BYTES } from './quota.js';

let dir: string;
const open: Backend[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-test-'));
});
afterEach(async () => {
  for (const b of open.splice(0)) await b.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function openBackend(extra: Partial<BackendConfig> = {}): Backend {
  const b = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true, ...extra });
  open.push(b);
  return b;
}

const b = (s: string) => Buffer.from(s);
const str = (u: Uint8Array | undefined) =>
  u === undefined ? undefined : Buffer.from(u).toString();

describe('batch tx and read buffer', () => {
  it('readers see buffered writes before the commit, and the commit keeps them', () => {
    const be = openBackend();
    be.put('key', b('a'), b('1'));
    expect(be.pending).toBe(1);
    expect(str(be.get('key', b('a')))).toBe('1');
    expect(be.commits).toBe(0);
    be.forceCommit();
    expect(be.pending).toBe(0);
    expect(be.commits).toBe(1);
    expect(str(be.get('key', b('a')))).toBe('1');
  });

  it('counts the committed entries of a bucket', () => {
    const be = openBackend();
    expect(be.committedCount('key')).toBe(0);
    for (const k of ['a', 'b', 'c']) be.put('key', b(k), b('v'));
    expect(be.committedCount('key')).toBe(0);
    be.forceCommit();
    be.put('key', b('d'), b('v'));
    expect(be.committedCount('key')).toBe(3);
    be.delete('key', b('a'));
    be.forceCommit();
    expect(be.committedCount('key')).toBe(3);
  });

  it('a buffered delete hides the committed entry', () => {
    const be = openBackend();
    be.put('meta', b('x'), b('1'));
    be.forceCommit();
    be.delete('meta', b('x'));
    expect(be.get('meta', b('x'))).toBeUndefined();
    expect(be.getTransient('meta', b('x'))).toBeUndefined();
    expect(be.range('meta', b('')).keys).toHaveLength(0);
    be.forceCommit();
    expect(be.get('meta', b('x'))).toBeUndefined();
  });

  it('ranges merge committed and buffered entries in key order with limit and end', () => {
    const be = openBackend();
    for (const k of ['a', 'c', 'e', 'g']) be.put('key', b(k), b(`db-${k}`));
    be.forceCommit();
    be.put('key', b('b'), b('buf-b'));
    be.put('key', b('c'), b('buf-c'));
    be.delete('key', b('e'));
    be.put('key', b('f'), b('buf-f'));
    const all = be.range('key', b(''));
    expect(all.keys.map(str)).toEqual(['a', 'b', 'c', 'f', 'g']);
    expect(all.values.map(str)).toEqual(['db-a', 'buf-b', 'buf-c', 'buf-f', 'db-g']);
    expect(be.range('key', b('b'), b('f')).keys.map(str)).toEqual(['b', 'c']);
    expect(be.range('key', b('a'), undefined, 3).keys.map(str)).toEqual(['a', 'b', 'c']);
    const seen: string[] = [];
    be.forEach('key', (k) => {
      seen.push(str(k)!);
      return seen.length < 2;
    });
    expect(seen).toEqual(['a', 'b']);
  });

  it('reads of a bucket that does not exist find nothing', () => {
    const be = openBackend();
    expect(be.get('nope', b('a'))).toBeUndefined();
    expect(be.range('nope', b('')).keys).toEqual([]);
  });

  it('commits at unlock once the batch reaches its limit, never inside a lock', () => {
    const be = openBackend({ batchLimit: 3 });
    be.lock();
    for (let i = 0; i < 5; i++) be.put('key', b(`k${i}`), b('v'));
    expect(be.commits).toBe(0);
    be.unlock();
    expect(be.commits).toBe(1);
    expect(be.pending).toBe(0);
    expect(() => be.unlock()).toThrow(/not locked/);
    be.lock();
    expect(() => be.lock()).toThrow(/already locked/);
    be.unlock();
  });

  it('commits on the batch interval', async () => {
    const be = openBackend({ batchInterval: 10 });
    be.put('key', b('a'), b('1'));
    for (let i = 0; i < 100 && be.commits === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(be.commits).toBeGreaterThanOrEqual(1);
    expect(be.pending).toBe(0);
  });

  it('pre-commit hooks write into the batch being committed', () => {
    const be = openBackend();
    let calls = 0;
    const remove = be.addPreCommitHook((tx) => {
      calls++;
      tx.put('meta', b('consistent_index'), Buffer.from([0, 0, 0, 0, 0, 0, 0, calls]));
    });
    be.put('key', b('a'), b('1'));
    be.forceCommit();
    expect(calls).toBe(1);
    expect(be.pending).toBe(0);
    expect([...be.get('meta', b('consistent_index'))!]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    remove();
    be.put('key', b('b'), b('1'));
    be.forceCommit();
    expect(calls).toBe(1);
  });

  it('keeps committed data across close and reopen, in every bucket', async () => {
    const be = openBackend();
    for (const bucket of ['key', 'meta', 'lease', 'members_removed'])
      be.put(bucket, b('k'), b(bucket));
    be.createBucket('alarm');
    await be.close();
    open.pop();
    const again = openBackend();
    expect(again.bucketNames()).toEqual(['alarm', 'key', 'lease', 'members_removed', 'meta']);
    for (const bucket of ['key', 'meta', 'lease', 'members_removed']) {
      expect(str(again.get(bucket, b('k')))).toBe(bucket);
    }
  });

  it('copies written values so callers may reuse their buffers', () => {
    const be = openBackend();
    const v = Buffer.from('one');
    be.put('key', b('a'), v);
    v.write('two');
    expect(str(be.get('key', b('a')))).toBe('one');
  });
});

describe('hash', () => {
  it('is CRC-32C over bucket names and entries in order, skipping ignored keys', () => {
    const be = openBackend();
    be.put('meta', b('consistent_index'), b('1'));
    be.put('meta', b('x'), b('2'));
    be.put('key', b('k1'), b('v1'));
    let want = 0;
    for (const part of ['key', 'k1', 'v1', 'meta', 'x', '2']) want = crc32c(b(part), want);
    expect(be.hash()).toBe(want >>> 0);
    const withCi = be.hash([]);
    expect(withCi).not.toBe(want >>> 0);
  });

  it('depends on contents, not on how they were committed', () => {
    const one = openBackend();
    one.put('key', b('a'), b('1'));
    one.forceCommit();
    one.put('key', b('b'), b('2'));
    const h1 = one.hash();
    const other = Backend.open({ path: path.join(dir, 'db2'), batchInterval: 0, noSync: true });
    open.push(other);
    other.put('key', b('b'), b('2'));
    other.put('key', b('a'), b('1'));
    expect(other.hash()).toBe(h1);
    other.put('key', b('a'), b('changed'));
    expect(other.hash()).not.toBe(h1);
  });
});

describe('size, defrag and quota', () => {
  it('defrag gives back the space of deleted entries, keeps data and writes made meanwhile', async () => {
    const be = openBackend();
    const value = Buffer.alloc(1024, 7);
    for (let i = 0; i < 5000; i++) be.put('key', b(`k${String(i).padStart(5, '0')}`), value);
    be.forceCommit();
    for (let i = 0; i < 4900; i++) be.delete('key', b(`k${String(i).padStart(5, '0')}`));
    be.forceCommit();
    const before = be.size();
    expect(be.sizeInUse()).toBeLessThan(before / 4);
    const done = be.defrag();
    be.put('key', b('during'), b('defrag'));
    expect(() => be.snapshot()).toThrow(/defrag in progress/);
    await expect(be.defrag()).rejects.toThrow(/already in progress/);
    await done;
    expect(be.size()).toBeLessThan(before / 4);
    expect(be.sizeInUse()).toBeLessThanOrEqual(be.size());
    expect(str(be.get('key', b('during')))).toBe('defrag');
    expect(be.range('key', b('')).keys).toHaveLength(101);
    await be.close();
    open.pop();
    const again = openBackend();
    expect(again.range('key', b('')).keys).toHaveLength(101);
    expect(fs.readdirSync(dir).sort()).toEqual(['db', 'db-lock']);
  });

  it('the quota admits a request only while size plus cost stays below it', () => {
    const fake = { size: () => 1000 };
    expect(new BackendQuota(fake).quotaBytes).toBe(DEFAULT_QUOTA_BYTES);
    const q = new BackendQuota(fake, 2000);
    expect(q.available(costPut(10, 800))).toBe(false);
    expect(q.available(costPut(10, 100))).toBe(true);
    expect(q.remaining()).toBe(1000);
    expect(new BackendQuota(fake, -1).available(1e12)).toBe(true);
  });
});

describe('failures', () => {
  it('refuses a key LMDB cannot store when it is written, not when the batch commits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-keysize-'));
    const be = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
    be.lock();
    be.put('authUsers', Buffer.from('ok'), Buffer.from('1'));
    expect(() =>
      be.put('authUsers', Buffer.alloc(MAX_KEY_BYTES + 1, 97), Buffer.from('x')),
    ).toThrow(KeyTooLargeError);
    be.unlock();
    be.forceCommit();
    expect(be.get('authUsers', Buffer.from('ok'))?.toString()).toBe('1');
    void be.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a failed commit is fatal: reported once, and nothing is committed after it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-fatal-'));
    const fatal: Error[] = [];
    const be = Backend.open({
      path: path.join(dir, 'db'),
      batchInterval: 0,
      noSync: true,
      onFatal: (err) => fatal.push(err),
    });
    be.lock();
    be.put('key', Buffer.from('a'), Buffer.from('1'));
    be.unlock();
    be.forceCommit();
    // Make the file unwritable under the backend: the next commit fails half-way.
    (be as unknown as { env: { root: { close(): Promise<void> } } }).env.root.close();
    be.lock();
    be.put('key', Buffer.from('b'), Buffer.from('2'));
    be.unlock();
    expect(() => be.forceCommit()).toThrow();
    expect(fatal).toHaveLength(1);
    expect(be.failed).toBe(fatal[0]);
    be.lock();
    be.put('key', Buffer.from('c'), Buffer.from('3'));
    be.unlock();
    expect(() => be.forceCommit()).toThrow(fatal[0]!.message);
    expect(fatal).toHaveLength(1);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('commits and defrag', () => {
  it('forceCommitWhenFree waits for a defrag that holds commits, then commits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-defrag-commit-'));
    const be = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
    be.lock();
    for (let i = 0; i < 2000; i++) be.put('key', Buffer.from(`k${i}`), Buffer.alloc(512, i));
    be.unlock();
    be.forceCommit();
    const defrag = be.defrag();
    be.lock();
    be.put('key', Buffer.from('during'), Buffer.from('1'));
    be.unlock();
    const commitsBefore = be.commits;
    const committed = be.forceCommitWhenFree();
    await committed;
    await defrag;
    // The write made while the defrag held commits is in the file, after it.
    expect(be.commits).toBeGreaterThan(commitsBefore);
    expect(be.pending).toBe(0);
    await be.close();
    const again = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
    expect(again.get('key', Buffer.from('during'))?.toString()).toBe('1');
    await again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

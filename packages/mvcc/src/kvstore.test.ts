import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { b, FakeLessor, s, TestDir } from '../test/util.js';
import { CompactedError, FutureRevError } from './errors.js';
import { KVStore } from './kvstore.js';

let t: TestDir;
beforeEach(() => {
  t = new TestDir();
});
afterEach(async () => {
  await t.cleanup();
});

const keys = (r: { kvs: { key: Uint8Array }[] }) => r.kvs.map((kv) => s(kv.key));

describe('KVStore', () => {
  it('starts at revision 1; each put makes a revision with create, mod and version', () => {
    const st = new KVStore(t.backend());
    expect(st.rev()).toBe(1);
    expect(st.put(b('foo'), b('bar'))).toBe(2);
    expect(st.put(b('foo'), b('baz'))).toBe(3);
    const r = st.range(b('foo'));
    expect(r.rev).toBe(3);
    expect(r.count).toBe(1);
    expect(r.kvs[0]).toMatchObject({ createRevision: 2, modRevision: 3, version: 2, lease: 0n });
    expect(s(r.kvs[0]!.value)).toBe('baz');
  });

  it('tells apart keys whose index hashes collide (same hash, same length)', () => {
    const st = new KVStore(t.backend());
    // Find three keys of 8 bytes with the same hash under this store's (seeded) table.
    const index = (
      st as unknown as {
        index: {
          byKey: { hash(b: Uint8Array, s: number, e: number): number };
          lookup(b: Uint8Array): number;
          lookupCandidate(b: Uint8Array): number;
        };
      }
    ).index;
    const table = index.byKey;
    const seen = new Map<number, Buffer[]>();
    let same: Buffer[] | undefined;
    for (let i = 0; same === undefined && i < 2_000_000; i++) {
      const k = Buffer.alloc(8);
      k.writeUInt32BE(i, 0);
      k.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 4);
      const h = table.hash(k, 0, 8);
      const group = seen.get(h) ?? [];
      group.push(k);
      seen.set(h, group);
      if (group.length === 2) same = group;
    }
    expect(same).toBeDefined();
    const [first, second] = same!;
    st.put(first!, b('one'));
    // The second key's table candidate is the first key: the read must not return it.
    expect(index.lookupCandidate(second!)).toBe(index.lookup(first!));
    expect(st.range(second!).kvs).toEqual([]);
    st.put(second!, b('two'));
    expect(s(st.range(first!).kvs[0]!.value)).toBe('one');
    expect(s(st.range(second!).kvs[0]!.value)).toBe('two');
    st.deleteRange(first!);
    expect(st.range(first!).kvs).toEqual([]);
    expect(s(st.range(second!).kvs[0]!.value)).toBe('two');
    expect(s(st.range(first!, undefined, { rev: 3 }).kvs[0]!.value)).toBe('one');
  });

  it('reads history at past revisions and refuses compacted and future ones', async () => {
    const st = new KVStore(t.backend());
    st.put(b('a'), b('1')); // 2
    st.put(b('a'), b('2')); // 3
    st.deleteRange(b('a')); // 4
    st.put(b('a'), b('3')); // 5
    expect(s(st.range(b('a'), undefined, { rev: 2 }).kvs[0]!.value)).toBe('1');
    expect(s(st.range(b('a'), undefined, { rev: 3 }).kvs[0]!.value)).toBe('2');
    expect(st.range(b('a'), undefined, { rev: 4 }).kvs).toEqual([]);
    const again = st.range(b('a'), undefined, { rev: 5 }).kvs[0]!;
    expect(again).toMatchObject({ createRevision: 5, version: 1 });
    expect(() => st.range(b('a'), undefined, { rev: 6 })).toThrow(FutureRevError);
    // etcd's mvcc texts; the server sends its own (etcdserver: mvcc: ...).
    expect(() => st.range(b('a'), undefined, { rev: 6 })).toThrow(
      /^mvcc: required revision is a future revision$/,
    );
    await st.compact(3);
    expect(() => st.range(b('a'), undefined, { rev: 2 })).toThrow(CompactedError);
    expect(() => st.range(b('a'), undefined, { rev: 2 })).toThrow(
      /^mvcc: required revision has been compacted$/,
    );
    expect(s(st.range(b('a'), undefined, { rev: 3 }).kvs[0]!.value)).toBe('2');
    expect(() => st.compact(3)).toThrow(CompactedError);
    expect(() => st.compact(9)).toThrow(FutureRevError);
  });

  it('ranges single keys, [key, end), prefixes, from-key ("\\0") and with limit and count', () => {
    const st = new KVStore(t.backend());
    for (const k of ['a', 'ab', 'abc', 'b', 'c']) st.put(b(k), b(k));
    expect(keys(st.range(b('ab')))).toEqual(['ab']);
    expect(keys(st.range(b('a'), b('b')))).toEqual(['a', 'ab', 'abc']);
    expect(keys(st.range(b('ab'), b('ac')))).toEqual(['ab', 'abc']);
    expect(keys(st.range(b('ab'), Buffer.from([0])))).toEqual(['ab', 'abc', 'b', 'c']);
    expect(keys(st.range(Buffer.from([0]), Buffer.from([0])))).toHaveLength(5);
    const limited = st.range(b('a'), Buffer.from([0]), { limit: 2 });
    expect(keys(limited)).toEqual(['a', 'ab']);
    expect(limited.count).toBe(5);
    const counted = st.range(b('a'), b('b'), { count: true });
    expect(counted.kvs).toEqual([]);
    expect(counted.count).toBe(3);
  });

  it('a write txn has one revision, a sub revision per change, and reads its own writes', () => {
    const st = new KVStore(t.backend());
    st.put(b('x'), b('0'));
    const tw = st.write();
    expect(tw.put(b('a'), b('1'))).toBe(3);
    expect(tw.put(b('b'), b('2'))).toBe(3);
    expect(keys(tw.range(b('a'), b('c')))).toEqual(['a', 'b']);
    expect(tw.deleteRange(b('x'), undefined)).toEqual({ deleted: 1, rev: 3 });
    expect(tw.changes().map((c) => [s(c.key), c.createRevision, c.modRevision])).toEqual([
      ['a', 3, 3],
      ['b', 3, 3],
      ['x', 0, 3],
    ]);
    tw.end();
    expect(st.rev()).toBe(3);
    expect(keys(st.range(b('a'), Buffer.from([0])))).toEqual(['a', 'b']);
    // A txn that changes nothing leaves the revision alone.
    const empty = st.write();
    expect(empty.deleteRange(b('nope'), undefined)).toEqual({ deleted: 0, rev: 3 });
    empty.end();
    expect(st.rev()).toBe(3);
  });

  it('attaches and detaches leases through the lessor it is handed', () => {
    const lessor = new FakeLessor();
    const st = new KVStore(t.backend(), { lessor });
    st.put(b('k'), b('v'), 7n);
    st.put(b('k'), b('v'), 8n);
    st.deleteRange(b('k'));
    expect(lessor.log).toEqual(['attach 7 k', 'detach 7 k', 'attach 8 k', 'detach 8 k']);
  });

  it('restores a key whose lease the lessor no longer has, logging a warning', async () => {
    const be = t.backend();
    const st = new KVStore(be, { lessor: new FakeLessor() });
    st.put(b('k'), b('v'), 9n);
    await st.close();
    const warnings: string[] = [];
    const strict = new FakeLessor();
    strict.attach = (id) => {
      throw new Error(`lease ${id} not found`);
    };
    const logger = {
      info: () => {},
      warn: (_o: object, msg: string) => warnings.push(msg),
      error: () => {},
    };
    const st2 = new KVStore(be, { lessor: strict, logger });
    expect(s(st2.range(b('k')).kvs[0]!.value)).toBe('v');
    expect(warnings).toEqual(['failed to attach a lease']);
  });

  it('refuses a leased put without a lessor and changes nothing', () => {
    const st = new KVStore(t.backend());
    expect(() => st.put(b('k'), b('v'), 5n)).toThrow(/no lessor/);
    expect(st.rev()).toBe(1);
    expect(st.range(b('k')).kvs).toEqual([]);
  });

  it('keeps revision, data, compaction and consistent index across close and reopen', async () => {
    const lessor = new FakeLessor();
    const be = t.backend();
    const st = new KVStore(be, { lessor });
    st.setConsistentIndex(41, 2);
    st.put(b('a'), b('1'), 5n);
    st.put(b('b'), b('2'));
    st.deleteRange(b('b'));
    st.put(b('c'), b('3'));
    st.put(b('a'), b('4'), 5n);
    await st.compact(3);
    st.setConsistentIndex(42, 3);
    const before = st.range(Buffer.from([0]), Buffer.from([0]));
    const hash = st.hashByRev();
    await st.close();
    await be.close();
    const lessor2 = new FakeLessor();
    const st2 = new KVStore(t.backend(), { lessor: lessor2 });
    expect(st2.rev()).toBe(st.rev());
    expect(st2.compactRev()).toBe(3);
    expect(st2.consistentIndex()).toEqual({ index: 42, term: 3 });
    expect(st2.range(Buffer.from([0]), Buffer.from([0]))).toEqual(before);
    expect(st2.hashByRev()).toEqual(hash);
    expect(lessor2.keyLease).toEqual(new Map([['a', 5n]]));
    expect(st2.put(b('d'), b('5'))).toBe(st.rev() + 1);
    // b stays indexed: a read at the compact revision 3 still sees it.
    expect(st2.restoreStats.keys).toBe(3);
  });

  it('after deleting everything and compacting, reopens at the compact revision', async () => {
    const be = t.backend();
    const st = new KVStore(be);
    st.put(b('a'), b('1'));
    st.deleteRange(b('a'));
    st.put(b('z'), b('1'));
    st.deleteRange(b('z'));
    await st.compact(5);
    await st.close();
    await be.close();
    const st2 = new KVStore(t.backend());
    expect(st2.rev()).toBe(5);
    expect(st2.range(Buffer.from([0]), Buffer.from([0])).kvs).toEqual([]);
  });

  it('stores the consistent index with each commit, 8-byte big endian in meta', () => {
    const be = t.backend();
    const st = new KVStore(be);
    st.setConsistentIndex(258, 1);
    st.put(b('a'), b('1'));
    be.forceCommit();
    expect(be.get('meta', b('consistent_index'))!.toString('hex')).toBe('0000000000000102');
    expect(be.get('meta', b('term'))!.toString('hex')).toBe('0000000000000001');
  });
});

describe('compaction and hash', () => {
  it('removes exactly the revisions no read at or after the compact revision needs', async () => {
    const be = t.backend();
    const st = new KVStore(be, { compactionBatchLimit: 3, compactionSleepInterval: 1 });
    for (let i = 0; i < 10; i++) st.put(b(`k${i % 3}`), b(`v${i}`)); // revs 2..11
    st.deleteRange(b('k0')); // 12
    st.put(b('k9'), b('x')); // 13
    const views = [10, 11, 12, 13].map((rev) =>
      st.range(Buffer.from([0]), Buffer.from([0]), { rev }),
    );
    const compacting = st.compact(12);
    // A hash taken while the removal is under way equals the one after it.
    const hashAt13 = st.hashByRev(13).hash;
    await compacting;
    // Every read at or after 12 is unchanged.
    expect(st.range(Buffer.from([0]), Buffer.from([0]), { rev: 12 })).toEqual({
      ...views[2],
      rev: 13,
    });
    expect(st.range(Buffer.from([0]), Buffer.from([0]), { rev: 13 })).toEqual(views[3]);
    // Only the latest put of k1, k2 before 12 and everything after stays: k0's tombstone goes.
    const left = be.range('key', Buffer.alloc(0)).keys.length;
    expect(left).toBe(3);
    expect(st.hashByRev(13).hash).toBe(hashAt13);
    expect(st.hashByRev(13).compactRev).toBe(12);
    expect(() => st.hashByRev(12)).toThrow(CompactedError);
    expect(() => st.hashByRev(14)).toThrow(FutureRevError);
  });

  it('resumes a compaction that a crash interrupted', async () => {
    const be = t.backend();
    const st = new KVStore(be, { compactionBatchLimit: 2, compactionSleepInterval: 1000 });
    for (let i = 0; i < 20; i++) st.put(b(`k${i % 2}`), b(`v${i}`));
    const done = st.compact(15);
    // Let the first batch run, then "crash": close before the pause ends.
    await new Promise((r) => setTimeout(r, 20));
    expect(be.get('meta', b('finishedCompactRev'))).toBeUndefined();
    expect(be.get('meta', b('scheduledCompactRev'))).toBeDefined();
    const closing = st.close();
    await closing;
    await done;
    await be.close();
    const be2 = t.backend();
    const st2 = new KVStore(be2, { compactionBatchLimit: 2, compactionSleepInterval: 1 });
    expect(st2.compactRev()).toBe(15);
    await st2.compactionIdle();
    expect(be2.get('meta', b('finishedCompactRev'))).toBeDefined();
    // k0 and k1 each keep their latest revision at or below 15, plus what came after.
    expect(be2.range('key', Buffer.alloc(0)).keys.length).toBe(2 + (21 - 15));
  });

  it('hashes equal stores equally and sees a difference', () => {
    const a = new KVStore(t.backend());
    const other = new TestDir();
    const c = new KVStore(other.backend());
    for (const st of [a, c]) {
      st.put(b('x'), b('1'));
      st.put(b('y'), b('2'));
    }
    expect(a.hashByRev().hash).toBe(c.hashByRev().hash);
    c.put(b('y'), b('3'));
    a.put(b('y'), b('4'));
    expect(a.hashByRev().hash).not.toBe(c.hashByRev().hash);
    return other.cleanup();
  });
});

describe('hashByRevAsync', () => {
  it('equals hashByRev at every revision, compacted ones included, and lets the loop run', async () => {
    const dir = new TestDir();
    const st = new KVStore(dir.backend());
    for (let i = 0; i < 25_000; i++) st.put(b(`k${i % 700}`), b(`v${i}`));
    await st.compact(12_000);
    for (const rev of [0, 12_500, 20_000, 25_001]) {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 0);
      const got = await st.hashByRevAsync(rev);
      clearInterval(timer);
      expect(got).toEqual(st.hashByRev(rev));
      // 25,000 revisions are hashed in three slices, with turns of the loop between them.
      if (rev === 0) expect(ticks).toBeGreaterThan(0);
    }
    await expect(st.hashByRevAsync(5)).rejects.toThrow(CompactedError);
    await st.close();
    await dir.cleanup();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compare,
  ErrCompacted,
  ErrDuplicateKey,
  ErrEmptyKey,
  ErrFutureRev,
  ErrKeyNotFound,
  ErrLeaseNotFound,
  EtcdError,
  op,
} from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

describe.skipIf(!haveEtcd)('KV against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('puts and gets strings and bytes, with prevKv', async () => {
    const first = await f.client.put('kv/a', 'one');
    expect(first.header?.revision).toBeGreaterThan(1);
    const second = await f.client.put(
      new Uint8Array([0x6b, 0x76, 0x2f, 0x61]),
      new Uint8Array([0, 255]),
      {
        prevKv: true,
      },
    );
    expect(text(second.prevKv?.value)).toBe('one');
    const got = await f.client.get('kv/a');
    expect(got.kvs).toHaveLength(1);
    expect([...got.kvs[0]!.value]).toEqual([0, 255]);
    expect(got.kvs[0]!.version).toBe(2);
    expect(got.kvs[0]!.createRevision).toBe(first.header?.revision);
  });

  it('reads prefixes, ranges, fromKey, limits, sorting, keysOnly and countOnly', async () => {
    for (const k of ['r/1', 'r/2', 'r/3', 'r/4', 's/1']) await f.client.put(k, `v${k}`);
    const prefix = await f.client.get('r/', { prefix: true });
    expect(prefix.kvs.map((kv) => text(kv.key))).toEqual(['r/1', 'r/2', 'r/3', 'r/4']);
    const range = await f.client.get('r/2', { rangeEnd: 'r/4' });
    expect(range.kvs.map((kv) => text(kv.key))).toEqual(['r/2', 'r/3']);
    const from = await f.client.get('r/4', { fromKey: true });
    expect(from.kvs.map((kv) => text(kv.key))).toEqual(['r/4', 's/1']);
    const limited = await f.client.get('r/', { prefix: true, limit: 2 });
    expect(limited.kvs).toHaveLength(2);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(4);
    const desc = await f.client.get('r/', {
      prefix: true,
      sort: { target: 'key', order: 'descend' },
    });
    expect(desc.kvs.map((kv) => text(kv.key))).toEqual(['r/4', 'r/3', 'r/2', 'r/1']);
    const keysOnly = await f.client.get('r/', { prefix: true, keysOnly: true });
    expect(keysOnly.kvs.every((kv) => kv.value.length === 0)).toBe(true);
    const count = await f.client.get('r/', { prefix: true, countOnly: true });
    expect(count.kvs).toHaveLength(0);
    expect(count.count).toBe(4);
    const serial = await f.client.get('r/1', { serializable: true });
    expect(text(serial.kvs[0]?.value)).toBe('vr/1');
  });

  it('reads older revisions and filters by mod/create revision', async () => {
    const p1 = await f.client.put('hist', '1');
    await f.client.put('hist', '2');
    const old = await f.client.get('hist', { revision: p1.header!.revision });
    expect(text(old.kvs[0]?.value)).toBe('1');
    const none = await f.client.get('hist', { maxModRevision: p1.header!.revision - 1 });
    expect(none.kvs).toHaveLength(0);
    const some = await f.client.get('hist', { minCreateRevision: p1.header!.revision });
    expect(some.kvs).toHaveLength(1);
  });

  it('puts with ignoreValue and ignoreLease, fails with etcd errors', async () => {
    await f.client.put('ign', 'keep');
    await f.client.put('ign', '', { ignoreValue: true });
    expect(text((await f.client.get('ign')).kvs[0]?.value)).toBe('keep');
    await expect(f.client.put('missing-ign', '', { ignoreValue: true })).rejects.toBeInstanceOf(
      ErrKeyNotFound,
    );
    await expect(f.client.put('', 'x')).rejects.toBeInstanceOf(ErrEmptyKey);
    await expect(f.client.put('l', 'x', { lease: 12345n })).rejects.toBeInstanceOf(
      ErrLeaseNotFound,
    );
    const err = await f.client.get('ign', { revision: 1_000_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrFutureRev);
    expect((err as EtcdError).message).toBe(
      'etcdserver: mvcc: required revision is a future revision',
    );
    expect((err as EtcdError).code).toBe(11);
  });

  it('deletes keys, prefixes and ranges with prevKv', async () => {
    for (const k of ['d/1', 'd/2', 'd/3']) await f.client.put(k, k);
    const one = await f.client.delete('d/1', { prevKv: true });
    expect(one.deleted).toBe(1);
    expect(text(one.prevKvs[0]?.value)).toBe('d/1');
    const rest = await f.client.delete('d/', { prefix: true });
    expect(rest.deleted).toBe(2);
    expect((await f.client.get('d/', { prefix: true })).count).toBe(0);
  });

  it('runs transactions with every compare target and nested txns', async () => {
    await f.client.put('t/a', '1');
    const got = await f.client.get('t/a');
    const kv = got.kvs[0]!;
    const ok = await f.client
      .txn()
      .if(
        compare.value('t/a', '=', '1'),
        compare.version('t/a', '=', kv.version),
        compare.createRevision('t/a', '=', kv.createRevision),
        compare.modRevision('t/a', '<', kv.modRevision + 1),
        compare.lease('t/a', '=', 0n),
      )
      .then(
        op.put('t/b', '2'),
        op.get('t/a'),
        op.txn([compare.version('t/a', '>', 0)], [op.delete('t/a')]),
      )
      .else(op.put('t/c', 'no'))
      .commit();
    expect(ok.succeeded).toBe(true);
    expect(text(ok.responses[1]?.responseRange?.kvs[0]?.value)).toBe('1');
    expect(ok.responses[2]?.responseTxn?.succeeded).toBe(true);
    expect(ok.responses[2]?.responseTxn?.responses[0]?.responseDeleteRange?.deleted).toBe(1);
    const failed = await f.client
      .txn()
      .if(compare.value('t/b', '!=', '2'))
      .then(op.put('t/c', 'yes'))
      .else(op.get('t/b'))
      .commit();
    expect(failed.succeeded).toBe(false);
    expect(text(failed.responses[0]?.responseRange?.kvs[0]?.value)).toBe('2');
    await expect(
      f.client.txn().then(op.put('dup', '1'), op.put('dup', '2')).commit(),
    ).rejects.toBeInstanceOf(ErrDuplicateKey);
    const prefixCmp = await f.client
      .txn()
      .if(compare.version('t/', '>', 0, { prefix: true }))
      .commit();
    expect(prefixCmp.succeeded).toBe(true);
  });

  it('refuses requests above maxCallSendMsgSize before sending them', async () => {
    const small = f.newClient({ maxCallSendMsgSize: 1024 });
    const err = await small.put('big', 'x'.repeat(4096)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EtcdError);
    expect((err as EtcdError).code).toBe(8);
    expect((await f.client.get('big')).count).toBe(0);
    const tiny = f.newClient({ maxCallRecvMsgSize: 64 });
    await f.client.put('sizable', 'y'.repeat(512));
    const recv = await tiny.get('sizable').catch((e: unknown) => e);
    expect((recv as EtcdError).code).toBe(8);
  });

  it('compacts physically and then refuses compacted revisions', async () => {
    const p = await f.client.put('c', '1');
    await f.client.put('c', '2');
    await f.client.compact(p.header!.revision, { physical: true });
    const err = await f.client
      .get('c', { revision: p.header!.revision - 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrCompacted);
    await expect(f.client.compact(p.header!.revision)).rejects.toBeInstanceOf(ErrCompacted);
  });

  it('confines a namespace to its prefix', async () => {
    const ns = f.client.namespace('ns/');
    await ns.put('x', '1');
    await ns.put('y', '2');
    expect(text((await f.client.get('ns/x')).kvs[0]?.value)).toBe('1');
    const all = await ns.get('', { prefix: true });
    expect(all.kvs.map((kv) => text(kv.key))).toEqual(['x', 'y']);
    const t = await ns
      .txn()
      .if(compare.value('x', '=', '1'))
      .then(op.get('y'))
      .commit();
    expect(text(t.responses[0]?.responseRange?.kvs[0]?.key)).toBe('y');
    const gone = await ns.delete('', { fromKey: true, prevKv: true });
    expect(gone.prevKvs.map((kv) => text(kv.key))).toEqual(['x', 'y']);
  });
});

describe('prefixEnd', () => {
  it('never modifies the key it is given, Buffer or not', async () => {
    const { prefixEnd } = await import('../src/index.js');
    const key = Buffer.from('a/');
    expect(Buffer.from(prefixEnd(key)).toString()).toBe('a0');
    expect(key.toString()).toBe('a/');
    expect([...prefixEnd(new Uint8Array([1, 0xff]))]).toEqual([2]);
    expect([...prefixEnd(new Uint8Array([0xff, 0xff]))]).toEqual([0]);
  });
});

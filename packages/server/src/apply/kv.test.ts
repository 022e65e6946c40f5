import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { Backend } from '@etcd-ts/backend';
import { LeaseNotFoundError, Lessor } from '@etcd-ts/lease';
import { CompactedError, FutureRevError, KVStore } from '@etcd-ts/mvcc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvariantError } from '../invariant.js';
import { applyDeleteRange, applyPut, applyRange, applyTxn, inWriteTxn } from './kv.js';
import { isTxnReadOnly, requestCost, validateTxnRequest } from './txn.js';

const pb = etcdserverpb;
const { Compare_CompareResult: R, Compare_CompareTarget: T } = pb;
const b = (x: string): Buffer => Buffer.from(x);
const s = (u: Uint8Array): string => Buffer.from(u).toString();

let dir: string;
let backend: Backend;
let lessor: Lessor;
let st: KVStore;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-apply-'));
  backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
  lessor = new Lessor({ backend });
  st = new KVStore(backend, { lessor });
  lessor.setRangeDeleter(() => st.write());
});
afterEach(async () => {
  lessor.stop();
  await st.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A txn as the server runs it: validated as the gRPC layer does, then applied. */
const runTxn = (t: etcdserverpb.TxnRequest, maxTxnOps?: number) => {
  validateTxnRequest(t, maxTxnOps);
  return applyTxn(st, t, isTxnReadOnly(t));
};

const put = (key: string, value: string, extra: Partial<etcdserverpb.PutRequest> = {}) =>
  pb.PutRequest.fromPartial({ key: b(key), value: b(value), ...extra });
const rng = (key: string, extra: Partial<etcdserverpb.RangeRequest> = {}) =>
  pb.RangeRequest.fromPartial({ key: b(key), ...extra });
const cmp = (
  key: string,
  target: etcdserverpb.Compare_CompareTarget,
  result: etcdserverpb.Compare_CompareResult,
  v: Partial<etcdserverpb.Compare>,
) => pb.Compare.fromPartial({ key: b(key), target, result, ...v });
const txn = (t: Partial<etcdserverpb.TxnRequest>) => pb.TxnRequest.fromPartial(t);

describe('Range', () => {
  it('sorts, filters, limits with more, counts and strips values', () => {
    applyPut(st, put('a', '3'));
    applyPut(st, put('b', '1'));
    applyPut(st, put('c', '2'));
    applyPut(st, put('b', '1'));
    const all = (extra: Partial<etcdserverpb.RangeRequest>) =>
      applyRange(st.read(), rng('a', { rangeEnd: b('d'), ...extra }));
    expect(all({}).kvs.map((kv) => s(kv.key))).toEqual(['a', 'b', 'c']);
    expect(
      all({ sortTarget: pb.RangeRequest_SortTarget.VALUE }).kvs.map((kv) => s(kv.key)),
    ).toEqual(['b', 'c', 'a']);
    expect(
      all({
        sortOrder: pb.RangeRequest_SortOrder.DESCEND,
        sortTarget: pb.RangeRequest_SortTarget.MOD,
      }).kvs.map((kv) => s(kv.key)),
    ).toEqual(['b', 'c', 'a']);
    const limited = all({ limit: 2 });
    expect([limited.kvs.length, limited.more, limited.count]).toEqual([2, true, 3]);
    expect(all({ limit: 3 }).more).toBe(false);
    expect(all({ minModRevision: 4 }).kvs.map((kv) => s(kv.key))).toEqual(['b', 'c']);
    expect(all({ maxCreateRevision: 3 }).kvs.map((kv) => s(kv.key))).toEqual(['a', 'b']);
    expect(all({ keysOnly: true }).kvs.every((kv) => kv.value.length === 0)).toBe(true);
    expect(all({ countOnly: true })).toMatchObject({ kvs: [], count: 3 });
    expect(all({}).header!.revision).toBe(5);
  });
});

describe('Put and DeleteRange', () => {
  it('returns prev_kv, honours ignore_value and ignore_lease, and checks leases', () => {
    lessor.grant(9n, 60);
    expect(applyPut(st, put('k', 'v1', { lease: 9n })).prevKv).toBeUndefined();
    const r = applyPut(st, put('k', 'v2', { prevKv: true }));
    expect(s(r.prevKv!.value)).toBe('v1');
    expect(r.header!.revision).toBe(3);
    applyPut(st, put('k', '', { ignoreValue: true, lease: 9n }));
    expect(s(st.range(b('k')).kvs[0]!.value)).toBe('v2');
    applyPut(st, put('k', 'v3', { ignoreLease: true }));
    expect(st.range(b('k')).kvs[0]!.lease).toBe(9n);
    expect(() => applyPut(st, put('nokey', '', { ignoreValue: true }))).toThrow(
      'etcdserver: key not found',
    );
    expect(() => applyPut(st, put('x', 'v', { lease: 10n }))).toThrow(LeaseNotFoundError);
  });

  it('deletes ranges with prev_kvs and reports the count', () => {
    for (const k of ['a', 'b', 'c']) applyPut(st, put(k, k));
    const d = applyDeleteRange(
      st,
      pb.DeleteRangeRequest.fromPartial({ key: b('a'), rangeEnd: b('c'), prevKv: true }),
    );
    expect(d.deleted).toBe(2);
    expect(d.prevKvs.map((kv) => s(kv.key))).toEqual(['a', 'b']);
    expect(d.header!.revision).toBe(5);
    const none = applyDeleteRange(st, pb.DeleteRangeRequest.fromPartial({ key: b('zz') }));
    expect([none.deleted, none.header!.revision]).toEqual([0, 5]);
  });
});

describe('Txn', () => {
  it('compares version, create, mod, value and lease with every result, also over ranges', () => {
    lessor.grant(5n, 60);
    applyPut(st, put('a', 'x')); // 2
    applyPut(st, put('a', 'y', { lease: 5n })); // 3
    applyPut(st, put('b', 'z')); // 4
    const ok = (...compare: etcdserverpb.Compare[]) => runTxn(txn({ compare })).succeeded;
    expect(ok(cmp('a', T.VERSION, R.EQUAL, { version: 2n }))).toBe(true);
    expect(ok(cmp('a', T.VERSION, R.GREATER, { version: 2n }))).toBe(false);
    expect(ok(cmp('a', T.CREATE, R.EQUAL, { createRevision: 2n }))).toBe(true);
    expect(ok(cmp('a', T.MOD, R.LESS, { modRevision: 4n }))).toBe(true);
    expect(ok(cmp('a', T.VALUE, R.EQUAL, { value: b('y') }))).toBe(true);
    expect(ok(cmp('a', T.VALUE, R.NOT_EQUAL, { value: b('y') }))).toBe(false);
    expect(ok(cmp('a', T.VALUE, R.GREATER, { value: b('x') }))).toBe(true);
    expect(ok(cmp('a', T.LEASE, R.EQUAL, { lease: 5n }))).toBe(true);
    // A missing key: version/create/mod/lease are 0, a value compare fails.
    expect(ok(cmp('nokey', T.VERSION, R.EQUAL, { version: 0n }))).toBe(true);
    expect(ok(cmp('nokey', T.CREATE, R.EQUAL, {}))).toBe(true);
    expect(ok(cmp('nokey', T.VALUE, R.NOT_EQUAL, { value: b('q') }))).toBe(false);
    // Over a range: every key must satisfy it.
    expect(ok(cmp('a', T.MOD, R.GREATER, { modRevision: 1n, rangeEnd: b('c') }))).toBe(true);
    expect(ok(cmp('a', T.MOD, R.GREATER, { modRevision: 3n, rangeEnd: b('c') }))).toBe(false);
    expect(st.rev()).toBe(4);
  });

  it('runs the branch taken in one revision, nested txns included, with responses in order', () => {
    applyPut(st, put('k', 'v')); // 2
    const r = runTxn(
      txn({
        compare: [cmp('k', T.VALUE, R.EQUAL, { value: b('v') })],
        success: [
          { requestPut: put('a', '1') },
          { requestRange: rng('a') },
          {
            requestTxn: txn({
              compare: [cmp('a', T.VERSION, R.EQUAL, { version: 5n })],
              success: [{ requestPut: put('never', '1') }],
              failure: [
                { requestPut: put('b', '2') },
                { requestDeleteRange: pb.DeleteRangeRequest.fromPartial({ key: b('k') }) },
              ],
            }),
          },
        ],
        failure: [{ requestPut: put('failed', '1') }],
      }),
    );
    expect(r.succeeded).toBe(true);
    expect(r.header!.revision).toBe(3);
    expect(r.responses).toHaveLength(3);
    expect(r.responses[0]!.responsePut!.header!.revision).toBe(3);
    // The range inside sees the put before it.
    expect(r.responses[1]!.responseRange!.kvs.map((kv) => s(kv.value))).toEqual(['1']);
    const nested = r.responses[2]!.responseTxn!;
    expect(nested.succeeded).toBe(false);
    expect(nested.responses[1]!.responseDeleteRange!.deleted).toBe(1);
    expect(st.rev()).toBe(3);
    const changes = st
      .range(Buffer.from([0]), Buffer.from([0]))
      .kvs.map((kv) => [s(kv.key), kv.modRevision]);
    expect(changes).toEqual([
      ['a', 3],
      ['b', 3],
    ]);
    // A read-only txn keeps the revision.
    const ro = runTxn(txn({ success: [{ requestRange: rng('a') }] }));
    expect(ro.header!.revision).toBe(3);
    expect(st.rev()).toBe(3);
  });

  it('refuses duplicate keys, too many ops, empty keys, bad leases and bad revisions without writing', async () => {
    const dup = txn({ success: [{ requestPut: put('a', '1') }, { requestPut: put('a', '2') }] });
    expect(() => runTxn(dup)).toThrow('etcdserver: duplicate key given in txn request');
    expect(() => runTxn(dup)).toThrow('etcdserver: duplicate key given in txn request');
    const putAndDelete = txn({
      success: [
        { requestPut: put('ab', '1') },
        {
          requestDeleteRange: pb.DeleteRangeRequest.fromPartial({ key: b('a'), rangeEnd: b('b') }),
        },
      ],
    });
    expect(() => validateTxnRequest(putAndDelete)).toThrow(
      'etcdserver: duplicate key given in txn request',
    );
    const nestedDup = txn({
      success: [
        { requestPut: put('a', '1') },
        { requestTxn: txn({ success: [{ requestPut: put('a', '2') }] }) },
      ],
    });
    expect(() => validateTxnRequest(nestedDup)).toThrow(
      'etcdserver: duplicate key given in txn request',
    );
    // The same key in the two branches of a nested txn is fine.
    validateTxnRequest(
      txn({
        success: [
          {
            requestTxn: txn({
              success: [{ requestPut: put('a', '1') }],
              failure: [{ requestPut: put('a', '2') }],
            }),
          },
        ],
      }),
    );
    const many = txn({
      success: Array.from({ length: 129 }, (_, i) => ({ requestPut: put(`k${i}`, 'v') })),
    });
    expect(() => runTxn(many)).toThrow('etcdserver: too many operations in txn request');
    expect(() => runTxn(many)).toThrow('etcdserver: too many operations in txn request');
    expect(() => runTxn(many, 200)).not.toThrow();
    expect(() => runTxn(txn({ success: [{ requestPut: put('', 'v') }] }))).toThrow(
      'etcdserver: key is not provided',
    );
    const rev = st.rev();
    expect(() =>
      runTxn(
        txn({
          success: [{ requestPut: put('z', '1') }, { requestPut: put('y', 'v', { lease: 77n }) }],
        }),
      ),
    ).toThrow(LeaseNotFoundError);
    expect(() =>
      runTxn(
        txn({
          success: [{ requestPut: put('z', '1') }, { requestRange: rng('a', { revision: 999 }) }],
        }),
      ),
    ).toThrow(FutureRevError);
    applyPut(st, put('w', '1'));
    await st.compact(st.rev());
    expect(() =>
      runTxn(
        txn({
          success: [{ requestPut: put('z', '1') }, { requestRange: rng('a', { revision: 2 }) }],
        }),
      ),
    ).toThrow(CompactedError);
    expect(st.range(b('z')).kvs).toEqual([]);
    expect(st.rev()).toBe(rev + 1);
  });
});

describe('requestCost', () => {
  it('counts key, value and 256 bytes of overhead per put, the larger txn branch', () => {
    expect(requestCost({ put: put('key', 'value') })).toBe(256 + 3 + 5);
    const t2 = txn({
      success: [{ requestPut: put('a', '1') }, { requestRange: rng('a') }],
      failure: [{ requestPut: put('b', '22') }, { requestPut: put('c', '333') }],
    });
    expect(requestCost({ txn: t2 })).toBe(256 + 1 + 2 + 256 + 1 + 3);
    // A nested txn's puts count in the branch that holds it.
    const nested = txn({
      success: [{ requestTxn: txn({ failure: [{ requestPut: put('n', '4444') }] }) }],
      failure: [{ requestPut: put('b', '22') }],
    });
    expect(requestCost({ txn: nested })).toBe(256 + 1 + 4);
    // Deleting costs nothing: a NOSPACE alarm must not refuse it (Kubernetes deletes by txn).
    const del = txn({
      success: [{ requestDeleteRange: pb.DeleteRangeRequest.fromPartial({ key: b('a') }) }],
    });
    expect(requestCost({ txn: del })).toBe(0);
    expect(requestCost({ leaseGrant: pb.LeaseGrantRequest.fromPartial({ ID: 1n, TTL: 5 }) })).toBe(
      64,
    );
  });
});

describe('etcd 3.4 edge cases', () => {
  it('compares an unknown target as equal (etcd leaves the result at 0)', () => {
    applyPut(st, put('a', 'x'));
    const odd = (result: etcdserverpb.Compare_CompareResult) =>
      runTxn(txn({ compare: [cmp('a', 9 as etcdserverpb.Compare_CompareTarget, result, {})] }))
        .succeeded;
    expect(odd(R.EQUAL)).toBe(true);
    expect(odd(R.NOT_EQUAL)).toBe(false);
    expect(odd(R.GREATER)).toBe(false);
    expect(odd(R.LESS)).toBe(false);
  });

  it('takes a delete range ending in "\\0" as written when looking for duplicate keys', () => {
    // etcd 3.4's checkIntervals builds [a, "\0"): empty, so it overlaps no put.
    validateTxnRequest(
      txn({
        success: [
          { requestPut: put('b', '1') },
          {
            requestDeleteRange: pb.DeleteRangeRequest.fromPartial({
              key: b('a'),
              rangeEnd: Buffer.from([0]),
            }),
          },
        ],
      }),
    );
  });
});

describe('txn request checks', () => {
  it('refuses a put inside a txn that sets a value or lease it says to ignore', () => {
    const withValue = txn({ success: [{ requestPut: put('k', 'v', { ignoreValue: true }) }] });
    expect(() => validateTxnRequest(withValue)).toThrow('etcdserver: value is provided');
    const withLease = txn({
      failure: [
        {
          requestTxn: txn({
            success: [{ requestPut: put('k', '', { ignoreLease: true, lease: 3n }) }],
          }),
        },
      ],
    });
    expect(() => validateTxnRequest(withLease)).toThrow('etcdserver: lease is provided');
    expect(() => validateTxnRequest(txn({ success: [{}] }))).toThrow('etcdserver: key not found');
  });

  it('tells read-only txns by every op of both branches, nested ones included', () => {
    const ro = txn({
      success: [{ requestRange: rng('a') }],
      failure: [{ requestTxn: txn({ success: [{ requestRange: rng('b') }] }) }],
    });
    expect(isTxnReadOnly(ro)).toBe(true);
    const deep = txn({
      failure: [
        {
          requestTxn: txn({
            success: [{ requestTxn: txn({ failure: [{ requestPut: put('deep', '1') }] }) }],
          }),
        },
      ],
    });
    expect(isTxnReadOnly(deep)).toBe(false);
  });
});

describe('a write that fails half-way', () => {
  it('is a broken invariant, and its changes are never ended into the store', () => {
    applyPut(st, put('a', '1'));
    const rev = st.rev();
    expect(() =>
      inWriteTxn(st, (txn) => {
        txn.put(b('b'), b('2'));
        throw new Error('disk on fire');
      }),
    ).toThrow(InvariantError);
    expect(st.rev()).toBe(rev);
  });

  it('a failure before any change ends the txn and keeps the request error', () => {
    expect(() =>
      inWriteTxn(st, () => {
        throw new Error('refused');
      }),
    ).toThrow('refused');
    // The store takes writes again.
    applyPut(st, put('c', '3'));
  });
});

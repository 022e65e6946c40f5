import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authpb, etcdserverpb } from '@etcd-ts/api';
import { AuthStore, hashPassword, PermissionDeniedError } from '@etcd-ts/auth';
import { Backend } from '@etcd-ts/backend';
import { Lessor } from '@etcd-ts/lease';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkApplyPermission, checkTxnPermission } from './auth.js';

const pb = etcdserverpb;
const { READ, WRITE, READWRITE } = authpb.Permission_Type;
const b = (x: string) => Buffer.from(x);

let dir: string;
let backend: Backend;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-auth-'));
  backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
});
afterEach(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Auth on with root, and user u holding role r: READ foo/, WRITE foo/w/ and awo/, READWRITE single. */
async function setup(): Promise<AuthStore> {
  const s = new AuthStore({ backend, bcryptCost: 4 });
  s.userAdd({
    name: 'root',
    password: '',
    hashedPassword: await hashPassword('pw', 4),
    options: undefined,
  });
  s.userGrantRole({ user: 'root', role: 'root' });
  s.authEnable();
  s.userAdd({ name: 'u', password: '', hashedPassword: '', options: { noPassword: true } });
  s.roleAdd({ name: 'r' });
  s.userGrantRole({ user: 'u', role: 'r' });
  const grant = (permType: authpb.Permission_Type, key: string, rangeEnd = '') =>
    s.roleGrantPermission({ name: 'r', perm: { permType, key: b(key), rangeEnd: b(rangeEnd) } });
  grant(READ, 'foo/', 'foo0');
  grant(WRITE, 'foo/w/', 'foo/w0');
  grant(READWRITE, 'single');
  grant(WRITE, 'awo/', 'awo0');
  return s;
}

const range = (key: string, rangeEnd = '') => ({
  requestRange: pb.RangeRequest.fromPartial({ key: b(key), rangeEnd: b(rangeEnd) }),
});
const put = (key: string, prevKv = false) => ({
  requestPut: pb.PutRequest.fromPartial({ key: b(key), value: b('v'), prevKv }),
});
const del = (key: string, rangeEnd = '', prevKv = false) => ({
  requestDeleteRange: pb.DeleteRangeRequest.fromPartial({
    key: b(key),
    rangeEnd: b(rangeEnd),
    prevKv,
  }),
});
const cmp = (key: string, rangeEnd = '') =>
  pb.Compare.fromPartial({ key: b(key), rangeEnd: b(rangeEnd) });
const txn = (
  compare: etcdserverpb.Compare[],
  success: etcdserverpb.RequestOp[],
  failure: etcdserverpb.RequestOp[] = [],
) => pb.TxnRequest.fromPartial({ compare, success, failure });

describe('txn permission (etcd checkTxnAuth)', () => {
  it('checks compares, both branches, prev_kv reads and nested txns', async () => {
    const s = await setup();
    const lessor = new Lessor({ backend });
    const u = { username: 'u', revision: s.revision };
    const check = (t: etcdserverpb.TxnRequest, ai: typeof u | undefined = u) =>
      checkTxnPermission(s, lessor, ai, t);
    check(txn([cmp('foo/a')], [put('foo/w/1'), range('foo/', 'foo0')], [del('single')]));
    expect(() => check(txn([cmp('nope')], []))).toThrow(PermissionDeniedError);
    expect(() => check(txn([], [], [put('foo/a')]))).toThrow(PermissionDeniedError);
    // prev_kv needs READ as well as WRITE.
    check(txn([], [put('awo/1'), del('awo/', 'awo0')]));
    expect(() => check(txn([], [put('awo/1', true)]))).toThrow(PermissionDeniedError);
    expect(() => check(txn([], [del('awo/', 'awo0', true)]))).toThrow(PermissionDeniedError);
    check(txn([], [put('single', true), del('single', '', true)]));
    // Nested txns: their compares and ops count too, in either branch.
    const nested = txn([], [{ requestTxn: txn([], [put('foo/a')]) }]);
    expect(() => check(nested)).toThrow(PermissionDeniedError);
    expect(() => check(txn([], [], [{ requestTxn: txn([cmp('nope')], []) }]))).toThrow(
      PermissionDeniedError,
    );
    check(txn([], [{ requestTxn: txn([cmp('single')], [put('single')]) }]));
    check(nested, { username: 'root', revision: s.revision });
    s.authDisable();
    check(nested, undefined);
  });

  it("a put with a lease needs WRITE on the lease's other keys (etcd's checkLeasePuts)", async () => {
    const s = await setup();
    const lessor = new Lessor({ backend });
    lessor.grant(7n, 60);
    lessor.attach(7n, b('foo/a')); // u may only read foo/a
    const u = { username: 'u', revision: s.revision };
    const req = (lease: bigint) =>
      pb.InternalRaftRequest.fromPartial({
        header: { username: 'u', authRevision: s.revision },
        put: { key: b('foo/w/1'), value: b('v'), lease },
      });
    expect(() => checkApplyPermission(s, lessor, req(7n))).toThrow(PermissionDeniedError);
    checkApplyPermission(s, lessor, req(0n));
    expect(() =>
      checkTxnPermission(
        s,
        lessor,
        u,
        txn([], [{ requestPut: pb.PutRequest.fromPartial({ key: b('foo/w/2'), lease: 7n }) }]),
      ),
    ).toThrow(PermissionDeniedError);
    lessor.stop();
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import * as rpctypes from './rpctypes.js';

/** etcd 3.4's table, from Debian's golang-etcd-server-dev. */
const RPCTYPES = '/usr/share/gocode/src/go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes/error.go';

/** The entries etcd added in 3.5 (absent from 3.4's file). */
const SINCE_3_5 = [
  'ErrGRPCClusterIdMismatch',
  'ErrGRPCPermissionNotGiven',
  'ErrGRPCClusterVersionUnavailable',
  'ErrGRPCWrongDowngradeVersionFormat',
  'ErrGRPCInvalidDowngradeTargetVersion',
  'ErrGRPCDowngradeInProcess',
  'ErrGRPCNoInflightDowngrade',
  'ErrGRPCCanceled',
  'ErrGRPCDeadlineExceeded',
];

const table = Object.entries(rpctypes).filter(
  (kv): kv is [string, rpctypes.RpcError] => typeof kv[1] === 'object',
);

/** Go's codes.OutOfRange -> grpc-js's status.OUT_OF_RANGE. */
function grpcCode(goName: string): number {
  if (goName === 'Canceled') return Status.CANCELLED;
  const name = goName.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  return Status[name as keyof typeof Status];
}

describe('rpctypes', () => {
  it('finds every entry by its text, and nothing else', () => {
    expect(table.length).toBeGreaterThan(50);
    for (const [, e] of table) expect(rpctypes.byMessage(e.message)).toBe(e);
    expect(new Set(table.map(([, e]) => e.message)).size).toBe(table.length);
    expect(rpctypes.byMessage('mvcc: required revision has been compacted')).toBeUndefined();
    expect(rpctypes.byMessage('etcdserver: key is not provided ')).toBeUndefined();
  });

  it('answers as the entries say', () => {
    expect(rpctypes.ErrGRPCEmptyKey).toEqual({
      code: Status.INVALID_ARGUMENT,
      message: 'etcdserver: key is not provided',
    });
    expect(rpctypes.ErrGRPCCompacted).toEqual({
      code: Status.OUT_OF_RANGE,
      message: 'etcdserver: mvcc: required revision has been compacted',
    });
    expect(rpctypes.ErrGRPCNoInflightDowngrade).toEqual({
      code: Status.FAILED_PRECONDITION,
      message: 'etcdserver: no inflight downgrade job',
    });
    expect(Object.isFrozen(rpctypes.ErrGRPCLeaseNotFound)).toBe(true);
  });

  it.skipIf(!existsSync(RPCTYPES))(
    "has etcd 3.4's name, text and code for each of its entries that 3.4 has",
    () => {
      const go = new Map<string, { code: number; message: string }>();
      const src = readFileSync(RPCTYPES, 'utf8');
      for (const [, name, code, message] of src.matchAll(
        /(\w+)\s*=\s*status\.New\(codes\.(\w+), "([^"]+)"\)/g,
      ))
        go.set(name!.replace(/^ErrGPRC/, 'ErrGRPC'), { code: grpcCode(code!), message: message! });
      expect(go.size).toBeGreaterThan(50);
      for (const [name, e] of table) {
        if (SINCE_3_5.includes(name)) {
          expect(
            [...go.values()].some((g) => g.message === e.message),
            name,
          ).toBe(false);
          continue;
        }
        expect(go.get(name), name).toEqual({ code: e.code, message: e.message });
      }
    },
  );
});

import { readFileSync } from 'node:fs';
import { rpctypes } from '@etcd-ts/api';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  ErrCompacted,
  ErrDeadlineExceeded,
  ErrInvalidAuthToken,
  ErrLeaseNotFound,
  ErrNoLeader,
  EtcdError,
  fromServiceError,
  GRPCError,
  grpcCodeName,
  knownError,
} from './errors.js';

const RPCTYPES = '/usr/share/gocode/src/go.etcd.io/etcd/etcdserver/api/v3rpc/rpctypes/error.go';

function serviceError(code: number, details: string) {
  return Object.assign(new Error(details), { code, details, metadata: undefined as never });
}

describe('typed errors', () => {
  it.skipIf(
    !(() => {
      try {
        readFileSync(RPCTYPES);
        return true;
      } catch {
        return false;
      }
    })(),
  )('maps every error of etcd 3.4 rpctypes to a class with its exact text and code', () => {
    const src = readFileSync(RPCTYPES, 'utf8');
    const rows = [...src.matchAll(/status\.New\(codes\.(\w+), "([^"]+)"\)/g)];
    expect(rows.length).toBeGreaterThan(50);
    for (const [, codeName, message] of rows) {
      const err = fromServiceError(serviceError(Status[toGrpcEnum(codeName!)], message!));
      expect(err).toBeInstanceOf(EtcdError);
      expect(err).not.toBeInstanceOf(GRPCError);
      expect(err.message).toBe(message);
      expect(grpcCodeName(err.code)).toBe(codeName);
    }
  });

  it('has a class of its own for every entry of the rpctypes table, with its text and code', () => {
    const entries = Object.values(rpctypes).filter(
      (v): v is rpctypes.RpcError => typeof v === 'object',
    );
    expect(entries.length).toBeGreaterThan(50);
    const classes = new Set<string>();
    for (const e of entries) {
      const err = fromServiceError(serviceError(e.code, e.message));
      expect(err, e.message).not.toBeInstanceOf(GRPCError);
      expect(err.message).toBe(e.message);
      expect(err.code).toBe(e.code);
      expect(knownError(e.message)?.name).toBe(err.name);
      classes.add(err.name);
    }
    expect(classes.size).toBe(entries.length);
    expect(ErrLeaseNotFound.message).toBe('etcdserver: requested lease not found');
    expect(new ErrLeaseNotFound().code).toBe(Status.NOT_FOUND);
  });

  it('keeps the classes apart and names unknown errors as Go prints them', () => {
    expect(fromServiceError(serviceError(11, ErrCompacted.message))).toBeInstanceOf(ErrCompacted);
    expect(
      fromServiceError(serviceError(5, 'etcdserver: requested lease not found')),
    ).toBeInstanceOf(ErrLeaseNotFound);
    expect(fromServiceError(serviceError(16, 'etcdserver: invalid auth token'))).toBeInstanceOf(
      ErrInvalidAuthToken,
    );
    expect(fromServiceError(serviceError(14, 'etcdserver: no leader'))).toBeInstanceOf(ErrNoLeader);
    expect(fromServiceError(serviceError(4, 'Deadline exceeded'))).toBeInstanceOf(
      ErrDeadlineExceeded,
    );
    const odd = fromServiceError(serviceError(12, 'unknown method Foo'));
    expect(odd).toBeInstanceOf(GRPCError);
    expect(odd.message).toBe('rpc error: code = Unimplemented desc = unknown method Foo');
    expect(knownError('etcdserver: user name not found')?.name).toBe('ErrUserNotFound');
    expect(new ErrCompacted(42).compactRevision).toBe(42);
  });
});

/** Go's codes.OutOfRange -> grpc-js's status.OUT_OF_RANGE. */
function toGrpcEnum(goName: string): keyof typeof Status {
  if (goName === 'Canceled') return 'CANCELLED';
  return goName.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as keyof typeof Status;
}

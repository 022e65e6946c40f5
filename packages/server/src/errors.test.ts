import { rpctypes } from '@etcd-ts/api';
import * as auth from '@etcd-ts/auth';
import * as lease from '@etcd-ts/lease';
import * as mvcc from '@etcd-ts/mvcc';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Errors, EtcdServerError, toGrpcError } from './errors.js';

const wire = (e: rpctypes.RpcError) => ({ code: e.code, details: e.message, message: e.message });

describe('Errors', () => {
  it('raises rpctypes entries with their text and code', () => {
    for (const [name, make] of Object.entries(Errors)) {
      const err = make();
      expect(err, name).toBeInstanceOf(EtcdServerError);
      expect(rpctypes.byMessage(err.message), name).toEqual({
        code: err.grpcCode,
        message: err.message,
      });
      expect(toGrpcError(err), name).toEqual({
        code: err.grpcCode,
        details: err.message,
        message: err.message,
      });
    }
    expect(Errors.valueProvided()).toMatchObject({
      message: 'etcdserver: value is provided',
      grpcCode: Status.INVALID_ARGUMENT,
    });
    expect(Errors.noInflightDowngrade()).toMatchObject({
      message: 'etcdserver: no inflight downgrade job',
      grpcCode: Status.FAILED_PRECONDITION,
    });
  });
});

describe('toGrpcError', () => {
  it("sends mvcc's, the lessor's and the auth store's errors as etcd's rpctypes", () => {
    const cases: [Error, rpctypes.RpcError][] = [
      [new mvcc.CompactedError(), rpctypes.ErrGRPCCompacted],
      [new mvcc.FutureRevError(), rpctypes.ErrGRPCFutureRev],
      [new lease.LeaseNotFoundError(), rpctypes.ErrGRPCLeaseNotFound],
      [new lease.LeaseExistsError(), rpctypes.ErrGRPCLeaseExist],
      [new lease.LeaseTTLTooLargeError(), rpctypes.ErrGRPCLeaseTTLTooLarge],
      [new auth.RootUserNotExistError(), rpctypes.ErrGRPCRootUserNotExist],
      [new auth.RootRoleNotExistError(), rpctypes.ErrGRPCRootRoleNotExist],
      [new auth.UserAlreadyExistError(), rpctypes.ErrGRPCUserAlreadyExist],
      [new auth.UserEmptyError(), rpctypes.ErrGRPCUserEmpty],
      [new auth.UserNotFoundError(), rpctypes.ErrGRPCUserNotFound],
      [new auth.RoleAlreadyExistError(), rpctypes.ErrGRPCRoleAlreadyExist],
      [new auth.RoleNotFoundError(), rpctypes.ErrGRPCRoleNotFound],
      [new auth.RoleEmptyError(), rpctypes.ErrGRPCRoleEmpty],
      [new auth.AuthFailedError(), rpctypes.ErrGRPCAuthFailed],
      [new auth.PermissionNotGivenError(), rpctypes.ErrGRPCPermissionNotGiven],
      [new auth.PermissionDeniedError(), rpctypes.ErrGRPCPermissionDenied],
      [new auth.RoleNotGrantedError(), rpctypes.ErrGRPCRoleNotGranted],
      [new auth.PermissionNotGrantedError(), rpctypes.ErrGRPCPermissionNotGranted],
      [new auth.AuthNotEnabledError(), rpctypes.ErrGRPCAuthNotEnabled],
      [new auth.InvalidAuthTokenError(), rpctypes.ErrGRPCInvalidAuthToken],
      [new auth.InvalidAuthMgmtError(), rpctypes.ErrGRPCInvalidAuthMgmt],
      [new auth.AuthOldRevisionError(), rpctypes.ErrGRPCAuthOldRevision],
    ];
    for (const [err, entry] of cases) expect(toGrpcError(err), err.name).toEqual(wire(entry));
    // The exact wire texts, as etcd's clients match them.
    expect(toGrpcError(new mvcc.CompactedError())).toEqual({
      code: Status.OUT_OF_RANGE,
      details: 'etcdserver: mvcc: required revision has been compacted',
      message: 'etcdserver: mvcc: required revision has been compacted',
    });
    expect(toGrpcError(new lease.LeaseNotFoundError())).toMatchObject({
      code: Status.NOT_FOUND,
      details: 'etcdserver: requested lease not found',
    });
    expect(toGrpcError(new auth.UserNotFoundError())).toMatchObject({
      code: Status.FAILED_PRECONDITION,
      details: 'etcdserver: user name not found',
    });
    expect(toGrpcError(new auth.AuthOldRevisionError())).toMatchObject({
      code: Status.INVALID_ARGUMENT,
      details: 'etcdserver: revision of auth store is old',
    });
  });

  it('sends any other error as Unknown with its own text, as etcd does', () => {
    const unknown = (message: string) => ({ code: Status.UNKNOWN, details: message, message });
    // etcd 3.4's toGRPCErrorMap has no entry for these.
    for (const err of [
      new auth.NoPasswordUserError(),
      new auth.InvalidAuthOptsError(),
      new auth.InvalidAuthMethodError(),
      new auth.MissingKeyError(),
      new auth.KeyMismatchError(),
      new auth.VerifyOnlyError(),
      new auth.PasswordTooLongError(),
      new lease.NotPrimaryError(),
      new mvcc.StoreClosedError(),
      new mvcc.RevisionNotFoundError(),
      new Error('boom'),
    ])
      expect(toGrpcError(err), err.name).toEqual(unknown(err.message));
    expect(toGrpcError(new auth.NoPasswordUserError())).toEqual(
      unknown('auth: authentication failed, password was given for no password user'),
    );
    expect(toGrpcError(new lease.NotPrimaryError())).toEqual(unknown('not a primary lessor'));
    expect(toGrpcError('odd')).toEqual(unknown('odd'));
  });
});

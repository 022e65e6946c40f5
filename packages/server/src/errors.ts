import { rpctypes } from '@etcd-ts/api';
import * as auth from '@etcd-ts/auth';
import * as lease from '@etcd-ts/lease';
import * as mvcc from '@etcd-ts/mvcc';
import { type Metadata, status as Status } from '@grpc/grpc-js';

/**
 * A server error with etcd's exact message and the gRPC status code etcd's v3rpc layer
 * answers with (its rpctypes). One instance per kind, compared by `message`.
 */
export class EtcdServerError extends Error {
  constructor(
    message: string,
    readonly grpcCode: Status,
  ) {
    super(message);
    this.name = 'EtcdServerError';
  }
}

const e = (entry: rpctypes.RpcError) => () => new EtcdServerError(entry.message, entry.code);

/** The errors the server raises itself, each one of etcd's rpctypes entries. */
export const Errors = {
  emptyKey: e(rpctypes.ErrGRPCEmptyKey),
  keyNotFound: e(rpctypes.ErrGRPCKeyNotFound),
  valueProvided: e(rpctypes.ErrGRPCValueProvided),
  leaseProvided: e(rpctypes.ErrGRPCLeaseProvided),
  tooManyOps: e(rpctypes.ErrGRPCTooManyOps),
  duplicateKey: e(rpctypes.ErrGRPCDuplicateKey),
  noSpace: e(rpctypes.ErrGRPCNoSpace),
  memberExist: e(rpctypes.ErrGRPCMemberExist),
  peerURLExist: e(rpctypes.ErrGRPCPeerURLExist),
  memberNotEnoughStarted: e(rpctypes.ErrGRPCMemberNotEnoughStarted),
  memberBadURLs: e(rpctypes.ErrGRPCMemberBadURLs),
  memberNotFound: e(rpctypes.ErrGRPCMemberNotFound),
  memberNotLearner: e(rpctypes.ErrGRPCMemberNotLearner),
  learnerNotReady: e(rpctypes.ErrGRPCLearnerNotReady),
  requestTooLarge: e(rpctypes.ErrGRPCRequestTooLarge),
  tooManyRequests: e(rpctypes.ErrGRPCRequestTooManyRequests),
  noLeader: e(rpctypes.ErrGRPCNoLeader),
  notLeader: e(rpctypes.ErrGRPCNotLeader),
  stopped: e(rpctypes.ErrGRPCStopped),
  timeout: e(rpctypes.ErrGRPCTimeout),
  badLeaderTransferee: e(rpctypes.ErrGRPCBadLeaderTransferee),
  notCapable: e(rpctypes.ErrGRPCNotCapable),
  unhealthy: e(rpctypes.ErrGRPCUnhealthy),
  leaderChanged: e(rpctypes.ErrGRPCLeaderChanged),
  notSupportedForLearner: e(rpctypes.ErrGRPCNotSupportedForLearner),
  invalidAuthToken: e(rpctypes.ErrGRPCInvalidAuthToken),
  invalidDowngradeTargetVersion: e(rpctypes.ErrGRPCInvalidDowngradeTargetVersion),
  noInflightDowngrade: e(rpctypes.ErrGRPCNoInflightDowngrade),
} as const;

/** A committed membership change that does not fit the membership (etcd's membership errors). */
export class MembershipError extends Error {
  private constructor(message: string) {
    super(message);
    this.name = 'MembershipError';
  }
  static idRemoved = () => new MembershipError('membership: ID removed');
  static idExists = () => new MembershipError('membership: ID exists');
  static idNotFound = () => new MembershipError('membership: ID not found');
  static peerURLExists = () => new MembershipError('membership: peerURL exists');
  static memberNotLearner = () =>
    new MembershipError('membership: can only promote a learner member');
  static tooManyLearners = () =>
    new MembershipError('membership: too many learner members in cluster');
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * etcd's toGRPCErrorMap: what the server sends for each error of the packages below, which
 * carry their own package's text and know nothing of gRPC. Any other error goes out as
 * Unknown with its own text, as etcd's togRPCError does (the auth errors etcd has no entry
 * for, mvcc's "mvcc: closed", the lessor's "not a primary lessor"...).
 */
const byClass = new Map<ErrorClass, rpctypes.RpcError>([
  [mvcc.CompactedError, rpctypes.ErrGRPCCompacted],
  [mvcc.FutureRevError, rpctypes.ErrGRPCFutureRev],

  [lease.LeaseNotFoundError, rpctypes.ErrGRPCLeaseNotFound],
  [lease.LeaseExistsError, rpctypes.ErrGRPCLeaseExist],
  [lease.LeaseTTLTooLargeError, rpctypes.ErrGRPCLeaseTTLTooLarge],

  [auth.RootUserNotExistError, rpctypes.ErrGRPCRootUserNotExist],
  [auth.RootRoleNotExistError, rpctypes.ErrGRPCRootRoleNotExist],
  [auth.UserAlreadyExistError, rpctypes.ErrGRPCUserAlreadyExist],
  [auth.UserEmptyError, rpctypes.ErrGRPCUserEmpty],
  [auth.UserNotFoundError, rpctypes.ErrGRPCUserNotFound],
  [auth.RoleAlreadyExistError, rpctypes.ErrGRPCRoleAlreadyExist],
  [auth.RoleNotFoundError, rpctypes.ErrGRPCRoleNotFound],
  [auth.RoleEmptyError, rpctypes.ErrGRPCRoleEmpty],
  [auth.AuthFailedError, rpctypes.ErrGRPCAuthFailed],
  // etcd 3.5 (3.4's auth store has no such error).
  [auth.PermissionNotGivenError, rpctypes.ErrGRPCPermissionNotGiven],
  [auth.PermissionDeniedError, rpctypes.ErrGRPCPermissionDenied],
  [auth.RoleNotGrantedError, rpctypes.ErrGRPCRoleNotGranted],
  [auth.PermissionNotGrantedError, rpctypes.ErrGRPCPermissionNotGranted],
  [auth.AuthNotEnabledError, rpctypes.ErrGRPCAuthNotEnabled],
  [auth.InvalidAuthTokenError, rpctypes.ErrGRPCInvalidAuthToken],
  [auth.InvalidAuthMgmtError, rpctypes.ErrGRPCInvalidAuthMgmt],
  [auth.AuthOldRevisionError, rpctypes.ErrGRPCAuthOldRevision],
]);

/** The membership errors, one class with etcd's texts (etcd's toGRPCErrorMap). */
const byMembershipText = new Map<string, rpctypes.RpcError>([
  [MembershipError.idRemoved().message, rpctypes.ErrGRPCMemberNotFound],
  [MembershipError.idNotFound().message, rpctypes.ErrGRPCMemberNotFound],
  [MembershipError.idExists().message, rpctypes.ErrGRPCMemberExist],
  [MembershipError.peerURLExists().message, rpctypes.ErrGRPCPeerURLExist],
  [MembershipError.memberNotLearner().message, rpctypes.ErrGRPCMemberNotLearner],
  [MembershipError.tooManyLearners().message, rpctypes.ErrGRPCTooManyLearners],
]);

/** What goes out for an error: its gRPC status code and etcd's text. */
export interface GrpcErrorFields {
  code: Status;
  details: string;
  message: string;
}

function grpcError(code: Status, message: string): GrpcErrorFields {
  return { code, details: message, message };
}

/**
 * The gRPC error etcd would send for `err` (etcd's togRPCError): the server's own errors
 * as they are, the errors of mvcc, the lessor and the auth store as their rpctypes entry,
 * anything else as Unknown with its message.
 */
export function toGrpcError(err: unknown): GrpcErrorFields {
  if (err instanceof EtcdServerError) return grpcError(err.grpcCode, err.message);
  if (!(err instanceof Error)) return grpcError(Status.UNKNOWN, String(err));
  const entry =
    err instanceof MembershipError
      ? byMembershipText.get(err.message)
      : byClass.get(Object.getPrototypeOf(err)?.constructor);
  if (entry !== undefined) return grpcError(entry.code, entry.message);
  return grpcError(Status.UNKNOWN, err.message);
}

/** The metadata type grpc-js hands handlers (re-exported for the services). */
export type { Metadata };

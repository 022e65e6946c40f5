import { type ServiceError, status as Status } from '@grpc/grpc-js';

/** gRPC code names as Go prints them in `rpc error: code = <Name> desc = ...`. */
const GO_CODE_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  8: 'ResourceExhausted',
  9: 'FailedPrecondition',
  10: 'Aborted',
  11: 'OutOfRange',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
  15: 'DataLoss',
  16: 'Unauthenticated',
};

/** The Go name of a gRPC status code (`Unavailable`, `OutOfRange`, ...). */
export function grpcCodeName(code: number): string {
  return GO_CODE_NAMES[code] ?? `Code(${code})`;
}

/**
 * Base of every error this client raises. `message` is etcd's exact text (what etcdctl
 * prints after `Error: `) and `code` the gRPC status code etcd sends with it.
 */
export class EtcdError extends Error {
  readonly code: Status;
  constructor(message: string, code: Status) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * A gRPC failure that is not one of etcd's named errors (a transport failure, an
 * unimplemented method...). Its message has Go's `rpc error: code = X desc = Y` form,
 * as clientv3 users and etcdctl print it.
 */
export class GRPCError extends EtcdError {
  readonly details: string;
  constructor(code: Status, details: string) {
    super(`rpc error: code = ${grpcCodeName(code)} desc = ${details}`, code);
    this.details = details;
  }
}

/**
 * The revision asked for was compacted away. For a watch, `compactRevision` is the
 * oldest revision still available: resume from there (or read the current state anew).
 */
export class ErrCompacted extends EtcdError {
  static readonly message = 'etcdserver: mvcc: required revision has been compacted';
  readonly compactRevision: number;
  constructor(compactRevision = 0) {
    super(ErrCompacted.message, Status.OUT_OF_RANGE);
    this.compactRevision = compactRevision;
  }
}

export class ErrEmptyKey extends EtcdError {
  static readonly message = 'etcdserver: key is not provided';
  constructor() {
    super(ErrEmptyKey.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrKeyNotFound extends EtcdError {
  static readonly message = 'etcdserver: key not found';
  constructor() {
    super(ErrKeyNotFound.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrValueProvided extends EtcdError {
  static readonly message = 'etcdserver: value is provided';
  constructor() {
    super(ErrValueProvided.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrLeaseProvided extends EtcdError {
  static readonly message = 'etcdserver: lease is provided';
  constructor() {
    super(ErrLeaseProvided.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrTooManyOps extends EtcdError {
  static readonly message = 'etcdserver: too many operations in txn request';
  constructor() {
    super(ErrTooManyOps.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrDuplicateKey extends EtcdError {
  static readonly message = 'etcdserver: duplicate key given in txn request';
  constructor() {
    super(ErrDuplicateKey.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrFutureRev extends EtcdError {
  static readonly message = 'etcdserver: mvcc: required revision is a future revision';
  constructor() {
    super(ErrFutureRev.message, Status.OUT_OF_RANGE);
  }
}

export class ErrNoSpace extends EtcdError {
  static readonly message = 'etcdserver: mvcc: database space exceeded';
  constructor() {
    super(ErrNoSpace.message, Status.RESOURCE_EXHAUSTED);
  }
}

export class ErrLeaseNotFound extends EtcdError {
  static readonly message = 'etcdserver: requested lease not found';
  constructor() {
    super(ErrLeaseNotFound.message, Status.NOT_FOUND);
  }
}

export class ErrLeaseExist extends EtcdError {
  static readonly message = 'etcdserver: lease already exists';
  constructor() {
    super(ErrLeaseExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrLeaseTTLTooLarge extends EtcdError {
  static readonly message = 'etcdserver: too large lease TTL';
  constructor() {
    super(ErrLeaseTTLTooLarge.message, Status.OUT_OF_RANGE);
  }
}

/** The server cancelled a watch; `reason` is its cancel reason when it gave one. */
export class ErrWatchCanceled extends EtcdError {
  static readonly message = 'etcdserver: watch canceled';
  readonly reason: string;
  constructor(reason = '') {
    super(reason === '' ? ErrWatchCanceled.message : reason, Status.CANCELLED);
    this.reason = reason;
  }
}

export class ErrMemberExist extends EtcdError {
  static readonly message = 'etcdserver: member ID already exist';
  constructor() {
    super(ErrMemberExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrPeerURLExist extends EtcdError {
  static readonly message = 'etcdserver: Peer URLs already exists';
  constructor() {
    super(ErrPeerURLExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrMemberNotEnoughStarted extends EtcdError {
  static readonly message = 'etcdserver: re-configuration failed due to not enough started members';
  constructor() {
    super(ErrMemberNotEnoughStarted.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrMemberBadURLs extends EtcdError {
  static readonly message = 'etcdserver: given member URLs are invalid';
  constructor() {
    super(ErrMemberBadURLs.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrMemberNotFound extends EtcdError {
  static readonly message = 'etcdserver: member not found';
  constructor() {
    super(ErrMemberNotFound.message, Status.NOT_FOUND);
  }
}

export class ErrMemberNotLearner extends EtcdError {
  static readonly message = 'etcdserver: can only promote a learner member';
  constructor() {
    super(ErrMemberNotLearner.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrMemberLearnerNotReady extends EtcdError {
  static readonly message =
    'etcdserver: can only promote a learner member which is in sync with leader';
  constructor() {
    super(ErrMemberLearnerNotReady.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrTooManyLearners extends EtcdError {
  static readonly message = 'etcdserver: too many learner members in cluster';
  constructor() {
    super(ErrTooManyLearners.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRequestTooLarge extends EtcdError {
  static readonly message = 'etcdserver: request is too large';
  constructor() {
    super(ErrRequestTooLarge.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrTooManyRequests extends EtcdError {
  static readonly message = 'etcdserver: too many requests';
  constructor() {
    super(ErrTooManyRequests.message, Status.RESOURCE_EXHAUSTED);
  }
}

export class ErrRootUserNotExist extends EtcdError {
  static readonly message = 'etcdserver: root user does not exist';
  constructor() {
    super(ErrRootUserNotExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRootRoleNotExist extends EtcdError {
  static readonly message = 'etcdserver: root user does not have root role';
  constructor() {
    super(ErrRootRoleNotExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrUserAlreadyExist extends EtcdError {
  static readonly message = 'etcdserver: user name already exists';
  constructor() {
    super(ErrUserAlreadyExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrUserEmpty extends EtcdError {
  static readonly message = 'etcdserver: user name is empty';
  constructor() {
    super(ErrUserEmpty.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrUserNotFound extends EtcdError {
  static readonly message = 'etcdserver: user name not found';
  constructor() {
    super(ErrUserNotFound.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRoleAlreadyExist extends EtcdError {
  static readonly message = 'etcdserver: role name already exists';
  constructor() {
    super(ErrRoleAlreadyExist.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRoleNotFound extends EtcdError {
  static readonly message = 'etcdserver: role name not found';
  constructor() {
    super(ErrRoleNotFound.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRoleEmpty extends EtcdError {
  static readonly message = 'etcdserver: role name is empty';
  constructor() {
    super(ErrRoleEmpty.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrAuthFailed extends EtcdError {
  static readonly message = 'etcdserver: authentication failed, invalid user ID or password';
  constructor() {
    super(ErrAuthFailed.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrPermissionDenied extends EtcdError {
  static readonly message = 'etcdserver: permission denied';
  constructor() {
    super(ErrPermissionDenied.message, Status.PERMISSION_DENIED);
  }
}

export class ErrRoleNotGranted extends EtcdError {
  static readonly message = 'etcdserver: role is not granted to the user';
  constructor() {
    super(ErrRoleNotGranted.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrPermissionNotGranted extends EtcdError {
  static readonly message = 'etcdserver: permission is not granted to the role';
  constructor() {
    super(ErrPermissionNotGranted.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrAuthNotEnabled extends EtcdError {
  static readonly message = 'etcdserver: authentication is not enabled';
  constructor() {
    super(ErrAuthNotEnabled.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrInvalidAuthToken extends EtcdError {
  static readonly message = 'etcdserver: invalid auth token';
  constructor() {
    super(ErrInvalidAuthToken.message, Status.UNAUTHENTICATED);
  }
}

export class ErrInvalidAuthMgmt extends EtcdError {
  static readonly message = 'etcdserver: invalid auth management';
  constructor() {
    super(ErrInvalidAuthMgmt.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrAuthOldRevision extends EtcdError {
  static readonly message = 'etcdserver: revision of auth store is old';
  constructor() {
    super(ErrAuthOldRevision.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrNoLeader extends EtcdError {
  static readonly message = 'etcdserver: no leader';
  constructor() {
    super(ErrNoLeader.message, Status.UNAVAILABLE);
  }
}

export class ErrNotLeader extends EtcdError {
  static readonly message = 'etcdserver: not leader';
  constructor() {
    super(ErrNotLeader.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrLeaderChanged extends EtcdError {
  static readonly message = 'etcdserver: leader changed';
  constructor() {
    super(ErrLeaderChanged.message, Status.UNAVAILABLE);
  }
}

export class ErrNotCapable extends EtcdError {
  static readonly message = 'etcdserver: not capable';
  constructor() {
    super(ErrNotCapable.message, Status.UNAVAILABLE);
  }
}

export class ErrStopped extends EtcdError {
  static readonly message = 'etcdserver: server stopped';
  constructor() {
    super(ErrStopped.message, Status.UNAVAILABLE);
  }
}

export class ErrTimeout extends EtcdError {
  static readonly message = 'etcdserver: request timed out';
  constructor() {
    super(ErrTimeout.message, Status.UNAVAILABLE);
  }
}

export class ErrTimeoutDueToLeaderFail extends EtcdError {
  static readonly message =
    'etcdserver: request timed out, possibly due to previous leader failure';
  constructor() {
    super(ErrTimeoutDueToLeaderFail.message, Status.UNAVAILABLE);
  }
}

export class ErrTimeoutDueToConnectionLost extends EtcdError {
  static readonly message = 'etcdserver: request timed out, possibly due to connection lost';
  constructor() {
    super(ErrTimeoutDueToConnectionLost.message, Status.UNAVAILABLE);
  }
}

export class ErrTimeoutWaitAppliedIndex extends EtcdError {
  static readonly message =
    'etcdserver: request timed out, waiting for the applied index took too long';
  constructor() {
    super(ErrTimeoutWaitAppliedIndex.message, Status.UNAVAILABLE);
  }
}

export class ErrUnhealthy extends EtcdError {
  static readonly message = 'etcdserver: unhealthy cluster';
  constructor() {
    super(ErrUnhealthy.message, Status.UNAVAILABLE);
  }
}

export class ErrCorrupt extends EtcdError {
  static readonly message = 'etcdserver: corrupt cluster';
  constructor() {
    super(ErrCorrupt.message, Status.DATA_LOSS);
  }
}

export class ErrNotSupportedForLearner extends EtcdError {
  static readonly message = 'etcdserver: rpc not supported for learner';
  constructor() {
    super(ErrNotSupportedForLearner.message, Status.UNAVAILABLE);
  }
}

export class ErrBadLeaderTransferee extends EtcdError {
  static readonly message = 'etcdserver: bad leader transferee';
  constructor() {
    super(ErrBadLeaderTransferee.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrClusterIdMismatch extends EtcdError {
  static readonly message = 'etcdserver: cluster ID mismatch';
  constructor() {
    super(ErrClusterIdMismatch.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrPermissionNotGiven extends EtcdError {
  static readonly message = 'etcdserver: permission not given';
  constructor() {
    super(ErrPermissionNotGiven.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrClusterVersionUnavailable extends EtcdError {
  static readonly message = 'etcdserver: cluster version not found during downgrade';
  constructor() {
    super(ErrClusterVersionUnavailable.message, Status.UNAVAILABLE);
  }
}

export class ErrWrongDowngradeVersionFormat extends EtcdError {
  static readonly message = 'etcdserver: wrong downgrade target version format';
  constructor() {
    super(ErrWrongDowngradeVersionFormat.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrInvalidDowngradeTargetVersion extends EtcdError {
  static readonly message = 'etcdserver: invalid downgrade target version';
  constructor() {
    super(ErrInvalidDowngradeTargetVersion.message, Status.INVALID_ARGUMENT);
  }
}

export class ErrDowngradeInProcess extends EtcdError {
  static readonly message = 'etcdserver: cluster has a downgrade job in progress';
  constructor() {
    super(ErrDowngradeInProcess.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrNoInflightDowngrade extends EtcdError {
  static readonly message = 'etcdserver: no inflight downgrade job';
  constructor() {
    super(ErrNoInflightDowngrade.message, Status.FAILED_PRECONDITION);
  }
}

export class ErrRequestCanceled extends EtcdError {
  static readonly message = 'etcdserver: request canceled';
  constructor() {
    super(ErrRequestCanceled.message, Status.CANCELLED);
  }
}

export class ErrRequestDeadlineExceeded extends EtcdError {
  static readonly message = 'etcdserver: context deadline exceeded';
  constructor() {
    super(ErrRequestDeadlineExceeded.message, Status.DEADLINE_EXCEEDED);
  }
}

// Errors raised by the client itself, with clientv3's and Go's texts.

/** The call's deadline (command timeout, dial timeout) passed before an answer came. */
export class ErrDeadlineExceeded extends EtcdError {
  static readonly message = 'context deadline exceeded';
  constructor() {
    super(ErrDeadlineExceeded.message, Status.DEADLINE_EXCEEDED);
  }
}

/** The call was cancelled by its caller (an AbortSignal) or by `client.close()`. */
export class ErrCanceled extends EtcdError {
  static readonly message = 'context canceled';
  constructor() {
    super(ErrCanceled.message, Status.CANCELLED);
  }
}

/** The client was built without endpoints. */
export class ErrNoAvailableEndpoints extends EtcdError {
  static readonly message = 'etcdclient: no available endpoints';
  constructor() {
    super(ErrNoAvailableEndpoints.message, Status.INVALID_ARGUMENT);
  }
}

/** A lease's keep-alive stopped: the lease expired or could not be renewed in time. */
export class ErrKeepAliveHalted extends EtcdError {
  static readonly message = 'etcdclient: leases keep alive halted';
  constructor(reason?: string) {
    super(
      reason === undefined
        ? ErrKeepAliveHalted.message
        : `${ErrKeepAliveHalted.message}: ${reason}`,
      Status.UNAVAILABLE,
    );
  }
}

/** A watcher's consumer fell so far behind that its bounded buffer filled up. */
export class ErrWatchBufferFull extends EtcdError {
  static readonly message = 'etcdclient: watcher buffer full, consumer too slow';
  constructor() {
    super(ErrWatchBufferFull.message, Status.RESOURCE_EXHAUSTED);
  }
}

const SERVER_ERRORS: ReadonlyArray<{ message: string; new (): EtcdError }> = [
  ErrEmptyKey,
  ErrKeyNotFound,
  ErrValueProvided,
  ErrLeaseProvided,
  ErrTooManyOps,
  ErrDuplicateKey,
  ErrFutureRev,
  ErrNoSpace,
  ErrLeaseNotFound,
  ErrLeaseExist,
  ErrLeaseTTLTooLarge,
  ErrWatchCanceled,
  ErrMemberExist,
  ErrPeerURLExist,
  ErrMemberNotEnoughStarted,
  ErrMemberBadURLs,
  ErrMemberNotFound,
  ErrMemberNotLearner,
  ErrMemberLearnerNotReady,
  ErrTooManyLearners,
  ErrRequestTooLarge,
  ErrTooManyRequests,
  ErrRootUserNotExist,
  ErrRootRoleNotExist,
  ErrUserAlreadyExist,
  ErrUserEmpty,
  ErrUserNotFound,
  ErrRoleAlreadyExist,
  ErrRoleNotFound,
  ErrRoleEmpty,
  ErrAuthFailed,
  ErrPermissionDenied,
  ErrRoleNotGranted,
  ErrPermissionNotGranted,
  ErrAuthNotEnabled,
  ErrInvalidAuthToken,
  ErrInvalidAuthMgmt,
  ErrAuthOldRevision,
  ErrNoLeader,
  ErrNotLeader,
  ErrLeaderChanged,
  ErrNotCapable,
  ErrStopped,
  ErrTimeout,
  ErrTimeoutDueToLeaderFail,
  ErrTimeoutDueToConnectionLost,
  ErrTimeoutWaitAppliedIndex,
  ErrUnhealthy,
  ErrCorrupt,
  ErrNotSupportedForLearner,
  ErrBadLeaderTransferee,
  ErrClusterIdMismatch,
  ErrPermissionNotGiven,
  ErrClusterVersionUnavailable,
  ErrWrongDowngradeVersionFormat,
  ErrInvalidDowngradeTargetVersion,
  ErrDowngradeInProcess,
  ErrNoInflightDowngrade,
  ErrRequestCanceled,
  ErrRequestDeadlineExceeded,
];

const BY_MESSAGE = new Map<string, new () => EtcdError>(SERVER_ERRORS.map((e) => [e.message, e]));

/** The named error whose text is `message`, if etcd has one. */
export function knownError(message: string): EtcdError | undefined {
  if (message === ErrCompacted.message) return new ErrCompacted();
  const known = BY_MESSAGE.get(message);
  return known === undefined ? undefined : new known();
}

/** Whether `err` looks like a @grpc/grpc-js call error. */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/**
 * Turns a @grpc/grpc-js error into the matching typed error: etcd's named errors by
 * their exact text (the server sends them as the status details), anything else as a
 * GRPCError.
 */
export function fromServiceError(err: ServiceError): EtcdError {
  if (err.code === Status.DEADLINE_EXCEEDED && !err.details.startsWith('etcdserver:')) {
    return new ErrDeadlineExceeded();
  }
  if (err.code === Status.CANCELLED && !err.details.startsWith('etcdserver:')) {
    return new ErrCanceled();
  }
  if (err.details === ErrCompacted.message) return new ErrCompacted();
  const known = BY_MESSAGE.get(err.details);
  if (known !== undefined) return new known();
  return new GRPCError(err.code, err.details);
}

/** Normalises anything thrown by a call into an EtcdError (other errors pass through). */
export function toEtcdError(err: unknown): unknown {
  if (err instanceof EtcdError) return err;
  if (isServiceError(err)) return fromServiceError(err);
  return err;
}

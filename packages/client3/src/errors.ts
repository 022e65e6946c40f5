import { rpctypes } from '@etcd-ts/api';
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
  static readonly message = rpctypes.ErrGRPCCompacted.message;
  readonly compactRevision: number;
  constructor(compactRevision = 0) {
    super(ErrCompacted.message, rpctypes.ErrGRPCCompacted.code);
    this.compactRevision = compactRevision;
  }
}

export class ErrEmptyKey extends EtcdError {
  static readonly message = rpctypes.ErrGRPCEmptyKey.message;
  constructor() {
    super(ErrEmptyKey.message, rpctypes.ErrGRPCEmptyKey.code);
  }
}

export class ErrKeyNotFound extends EtcdError {
  static readonly message = rpctypes.ErrGRPCKeyNotFound.message;
  constructor() {
    super(ErrKeyNotFound.message, rpctypes.ErrGRPCKeyNotFound.code);
  }
}

export class ErrValueProvided extends EtcdError {
  static readonly message = rpctypes.ErrGRPCValueProvided.message;
  constructor() {
    super(ErrValueProvided.message, rpctypes.ErrGRPCValueProvided.code);
  }
}

export class ErrLeaseProvided extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLeaseProvided.message;
  constructor() {
    super(ErrLeaseProvided.message, rpctypes.ErrGRPCLeaseProvided.code);
  }
}

export class ErrTooManyOps extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTooManyOps.message;
  constructor() {
    super(ErrTooManyOps.message, rpctypes.ErrGRPCTooManyOps.code);
  }
}

export class ErrDuplicateKey extends EtcdError {
  static readonly message = rpctypes.ErrGRPCDuplicateKey.message;
  constructor() {
    super(ErrDuplicateKey.message, rpctypes.ErrGRPCDuplicateKey.code);
  }
}

export class ErrFutureRev extends EtcdError {
  static readonly message = rpctypes.ErrGRPCFutureRev.message;
  constructor() {
    super(ErrFutureRev.message, rpctypes.ErrGRPCFutureRev.code);
  }
}

export class ErrNoSpace extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNoSpace.message;
  constructor() {
    super(ErrNoSpace.message, rpctypes.ErrGRPCNoSpace.code);
  }
}

export class ErrLeaseNotFound extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLeaseNotFound.message;
  constructor() {
    super(ErrLeaseNotFound.message, rpctypes.ErrGRPCLeaseNotFound.code);
  }
}

export class ErrLeaseExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLeaseExist.message;
  constructor() {
    super(ErrLeaseExist.message, rpctypes.ErrGRPCLeaseExist.code);
  }
}

export class ErrLeaseTTLTooLarge extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLeaseTTLTooLarge.message;
  constructor() {
    super(ErrLeaseTTLTooLarge.message, rpctypes.ErrGRPCLeaseTTLTooLarge.code);
  }
}

/** The server cancelled a watch; `reason` is its cancel reason when it gave one. */
export class ErrWatchCanceled extends EtcdError {
  static readonly message = rpctypes.ErrGRPCWatchCanceled.message;
  readonly reason: string;
  constructor(reason = '') {
    super(reason === '' ? ErrWatchCanceled.message : reason, rpctypes.ErrGRPCWatchCanceled.code);
    this.reason = reason;
  }
}

export class ErrMemberExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCMemberExist.message;
  constructor() {
    super(ErrMemberExist.message, rpctypes.ErrGRPCMemberExist.code);
  }
}

export class ErrPeerURLExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCPeerURLExist.message;
  constructor() {
    super(ErrPeerURLExist.message, rpctypes.ErrGRPCPeerURLExist.code);
  }
}

export class ErrMemberNotEnoughStarted extends EtcdError {
  static readonly message = rpctypes.ErrGRPCMemberNotEnoughStarted.message;
  constructor() {
    super(ErrMemberNotEnoughStarted.message, rpctypes.ErrGRPCMemberNotEnoughStarted.code);
  }
}

export class ErrMemberBadURLs extends EtcdError {
  static readonly message = rpctypes.ErrGRPCMemberBadURLs.message;
  constructor() {
    super(ErrMemberBadURLs.message, rpctypes.ErrGRPCMemberBadURLs.code);
  }
}

export class ErrMemberNotFound extends EtcdError {
  static readonly message = rpctypes.ErrGRPCMemberNotFound.message;
  constructor() {
    super(ErrMemberNotFound.message, rpctypes.ErrGRPCMemberNotFound.code);
  }
}

export class ErrMemberNotLearner extends EtcdError {
  static readonly message = rpctypes.ErrGRPCMemberNotLearner.message;
  constructor() {
    super(ErrMemberNotLearner.message, rpctypes.ErrGRPCMemberNotLearner.code);
  }
}

export class ErrMemberLearnerNotReady extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLearnerNotReady.message;
  constructor() {
    super(ErrMemberLearnerNotReady.message, rpctypes.ErrGRPCLearnerNotReady.code);
  }
}

export class ErrTooManyLearners extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTooManyLearners.message;
  constructor() {
    super(ErrTooManyLearners.message, rpctypes.ErrGRPCTooManyLearners.code);
  }
}

export class ErrRequestTooLarge extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRequestTooLarge.message;
  constructor() {
    super(ErrRequestTooLarge.message, rpctypes.ErrGRPCRequestTooLarge.code);
  }
}

export class ErrTooManyRequests extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRequestTooManyRequests.message;
  constructor() {
    super(ErrTooManyRequests.message, rpctypes.ErrGRPCRequestTooManyRequests.code);
  }
}

export class ErrRootUserNotExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRootUserNotExist.message;
  constructor() {
    super(ErrRootUserNotExist.message, rpctypes.ErrGRPCRootUserNotExist.code);
  }
}

export class ErrRootRoleNotExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRootRoleNotExist.message;
  constructor() {
    super(ErrRootRoleNotExist.message, rpctypes.ErrGRPCRootRoleNotExist.code);
  }
}

export class ErrUserAlreadyExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCUserAlreadyExist.message;
  constructor() {
    super(ErrUserAlreadyExist.message, rpctypes.ErrGRPCUserAlreadyExist.code);
  }
}

export class ErrUserEmpty extends EtcdError {
  static readonly message = rpctypes.ErrGRPCUserEmpty.message;
  constructor() {
    super(ErrUserEmpty.message, rpctypes.ErrGRPCUserEmpty.code);
  }
}

export class ErrUserNotFound extends EtcdError {
  static readonly message = rpctypes.ErrGRPCUserNotFound.message;
  constructor() {
    super(ErrUserNotFound.message, rpctypes.ErrGRPCUserNotFound.code);
  }
}

export class ErrRoleAlreadyExist extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRoleAlreadyExist.message;
  constructor() {
    super(ErrRoleAlreadyExist.message, rpctypes.ErrGRPCRoleAlreadyExist.code);
  }
}

export class ErrRoleNotFound extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRoleNotFound.message;
  constructor() {
    super(ErrRoleNotFound.message, rpctypes.ErrGRPCRoleNotFound.code);
  }
}

export class ErrRoleEmpty extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRoleEmpty.message;
  constructor() {
    super(ErrRoleEmpty.message, rpctypes.ErrGRPCRoleEmpty.code);
  }
}

export class ErrAuthFailed extends EtcdError {
  static readonly message = rpctypes.ErrGRPCAuthFailed.message;
  constructor() {
    super(ErrAuthFailed.message, rpctypes.ErrGRPCAuthFailed.code);
  }
}

export class ErrPermissionDenied extends EtcdError {
  static readonly message = rpctypes.ErrGRPCPermissionDenied.message;
  constructor() {
    super(ErrPermissionDenied.message, rpctypes.ErrGRPCPermissionDenied.code);
  }
}

export class ErrRoleNotGranted extends EtcdError {
  static readonly message = rpctypes.ErrGRPCRoleNotGranted.message;
  constructor() {
    super(ErrRoleNotGranted.message, rpctypes.ErrGRPCRoleNotGranted.code);
  }
}

export class ErrPermissionNotGranted extends EtcdError {
  static readonly message = rpctypes.ErrGRPCPermissionNotGranted.message;
  constructor() {
    super(ErrPermissionNotGranted.message, rpctypes.ErrGRPCPermissionNotGranted.code);
  }
}

export class ErrAuthNotEnabled extends EtcdError {
  static readonly message = rpctypes.ErrGRPCAuthNotEnabled.message;
  constructor() {
    super(ErrAuthNotEnabled.message, rpctypes.ErrGRPCAuthNotEnabled.code);
  }
}

export class ErrInvalidAuthToken extends EtcdError {
  static readonly message = rpctypes.ErrGRPCInvalidAuthToken.message;
  constructor() {
    super(ErrInvalidAuthToken.message, rpctypes.ErrGRPCInvalidAuthToken.code);
  }
}

export class ErrInvalidAuthMgmt extends EtcdError {
  static readonly message = rpctypes.ErrGRPCInvalidAuthMgmt.message;
  constructor() {
    super(ErrInvalidAuthMgmt.message, rpctypes.ErrGRPCInvalidAuthMgmt.code);
  }
}

export class ErrAuthOldRevision extends EtcdError {
  static readonly message = rpctypes.ErrGRPCAuthOldRevision.message;
  constructor() {
    super(ErrAuthOldRevision.message, rpctypes.ErrGRPCAuthOldRevision.code);
  }
}

export class ErrNoLeader extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNoLeader.message;
  constructor() {
    super(ErrNoLeader.message, rpctypes.ErrGRPCNoLeader.code);
  }
}

export class ErrNotLeader extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNotLeader.message;
  constructor() {
    super(ErrNotLeader.message, rpctypes.ErrGRPCNotLeader.code);
  }
}

export class ErrLeaderChanged extends EtcdError {
  static readonly message = rpctypes.ErrGRPCLeaderChanged.message;
  constructor() {
    super(ErrLeaderChanged.message, rpctypes.ErrGRPCLeaderChanged.code);
  }
}

export class ErrNotCapable extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNotCapable.message;
  constructor() {
    super(ErrNotCapable.message, rpctypes.ErrGRPCNotCapable.code);
  }
}

export class ErrStopped extends EtcdError {
  static readonly message = rpctypes.ErrGRPCStopped.message;
  constructor() {
    super(ErrStopped.message, rpctypes.ErrGRPCStopped.code);
  }
}

export class ErrTimeout extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTimeout.message;
  constructor() {
    super(ErrTimeout.message, rpctypes.ErrGRPCTimeout.code);
  }
}

export class ErrTimeoutDueToLeaderFail extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTimeoutDueToLeaderFail.message;
  constructor() {
    super(ErrTimeoutDueToLeaderFail.message, rpctypes.ErrGRPCTimeoutDueToLeaderFail.code);
  }
}

export class ErrTimeoutDueToConnectionLost extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTimeoutDueToConnectionLost.message;
  constructor() {
    super(ErrTimeoutDueToConnectionLost.message, rpctypes.ErrGRPCTimeoutDueToConnectionLost.code);
  }
}

export class ErrTimeoutWaitAppliedIndex extends EtcdError {
  static readonly message = rpctypes.ErrGRPCTimeoutWaitAppliedIndex.message;
  constructor() {
    super(ErrTimeoutWaitAppliedIndex.message, rpctypes.ErrGRPCTimeoutWaitAppliedIndex.code);
  }
}

export class ErrUnhealthy extends EtcdError {
  static readonly message = rpctypes.ErrGRPCUnhealthy.message;
  constructor() {
    super(ErrUnhealthy.message, rpctypes.ErrGRPCUnhealthy.code);
  }
}

export class ErrCorrupt extends EtcdError {
  static readonly message = rpctypes.ErrGRPCCorrupt.message;
  constructor() {
    super(ErrCorrupt.message, rpctypes.ErrGRPCCorrupt.code);
  }
}

export class ErrNotSupportedForLearner extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNotSupportedForLearner.message;
  constructor() {
    super(ErrNotSupportedForLearner.message, rpctypes.ErrGRPCNotSupportedForLearner.code);
  }
}

export class ErrBadLeaderTransferee extends EtcdError {
  static readonly message = rpctypes.ErrGRPCBadLeaderTransferee.message;
  constructor() {
    super(ErrBadLeaderTransferee.message, rpctypes.ErrGRPCBadLeaderTransferee.code);
  }
}

export class ErrClusterIdMismatch extends EtcdError {
  static readonly message = rpctypes.ErrGRPCClusterIdMismatch.message;
  constructor() {
    super(ErrClusterIdMismatch.message, rpctypes.ErrGRPCClusterIdMismatch.code);
  }
}

export class ErrPermissionNotGiven extends EtcdError {
  static readonly message = rpctypes.ErrGRPCPermissionNotGiven.message;
  constructor() {
    super(ErrPermissionNotGiven.message, rpctypes.ErrGRPCPermissionNotGiven.code);
  }
}

export class ErrClusterVersionUnavailable extends EtcdError {
  static readonly message = rpctypes.ErrGRPCClusterVersionUnavailable.message;
  constructor() {
    super(ErrClusterVersionUnavailable.message, rpctypes.ErrGRPCClusterVersionUnavailable.code);
  }
}

export class ErrWrongDowngradeVersionFormat extends EtcdError {
  static readonly message = rpctypes.ErrGRPCWrongDowngradeVersionFormat.message;
  constructor() {
    super(ErrWrongDowngradeVersionFormat.message, rpctypes.ErrGRPCWrongDowngradeVersionFormat.code);
  }
}

export class ErrInvalidDowngradeTargetVersion extends EtcdError {
  static readonly message = rpctypes.ErrGRPCInvalidDowngradeTargetVersion.message;
  constructor() {
    super(
      ErrInvalidDowngradeTargetVersion.message,
      rpctypes.ErrGRPCInvalidDowngradeTargetVersion.code,
    );
  }
}

export class ErrDowngradeInProcess extends EtcdError {
  static readonly message = rpctypes.ErrGRPCDowngradeInProcess.message;
  constructor() {
    super(ErrDowngradeInProcess.message, rpctypes.ErrGRPCDowngradeInProcess.code);
  }
}

export class ErrNoInflightDowngrade extends EtcdError {
  static readonly message = rpctypes.ErrGRPCNoInflightDowngrade.message;
  constructor() {
    super(ErrNoInflightDowngrade.message, rpctypes.ErrGRPCNoInflightDowngrade.code);
  }
}

export class ErrRequestCanceled extends EtcdError {
  static readonly message = rpctypes.ErrGRPCCanceled.message;
  constructor() {
    super(ErrRequestCanceled.message, rpctypes.ErrGRPCCanceled.code);
  }
}

export class ErrRequestDeadlineExceeded extends EtcdError {
  static readonly message = rpctypes.ErrGRPCDeadlineExceeded.message;
  constructor() {
    super(ErrRequestDeadlineExceeded.message, rpctypes.ErrGRPCDeadlineExceeded.code);
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
  ErrCompacted,
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

/** Each of etcd's named errors by its rpctypes entry. */
const BY_ENTRY = new Map<rpctypes.RpcError, new () => EtcdError>();
for (const e of SERVER_ERRORS) {
  const entry = rpctypes.byMessage(e.message);
  if (entry !== undefined) BY_ENTRY.set(entry, e);
}

/** The named error whose text is `message`, if etcd has one. */
export function knownError(message: string): EtcdError | undefined {
  const entry = rpctypes.byMessage(message);
  const known = entry === undefined ? undefined : BY_ENTRY.get(entry);
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
  return knownError(err.details) ?? new GRPCError(err.code, err.details);
}

/** Normalises anything thrown by a call into an EtcdError (other errors pass through). */
export function toEtcdError(err: unknown): unknown {
  if (err instanceof EtcdError) return err;
  if (isServiceError(err)) return fromServiceError(err);
  return err;
}

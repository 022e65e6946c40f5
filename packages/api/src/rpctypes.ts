import { status as Status } from '@grpc/grpc-js';

/**
 * etcd's client-facing errors (its `api/v3rpc/rpctypes`): the exact text a server sends as
 * the status details and the gRPC status code it sends with it. The server answers with
 * these; a client recognises them by their text (`byMessage`), as clientv3 does.
 *
 * Names are etcd's (`ErrGRPCEmptyKey`...). Texts and codes are etcd 3.4's; the entries etcd
 * added in 3.5 (permission not given, cluster ID mismatch, downgrades, canceled and deadline
 * exceeded) are 3.5's. Only the errors this project sends or recognises are here.
 */
export interface RpcError {
  readonly code: Status;
  readonly message: string;
}

const entries = new Map<string, RpcError>();

function rpcError(code: Status, message: string): RpcError {
  const e: RpcError = Object.freeze({ code, message });
  entries.set(message, e);
  return e;
}

const invalid = Status.INVALID_ARGUMENT;
const precondition = Status.FAILED_PRECONDITION;
const unavailable = Status.UNAVAILABLE;

// KV and txn requests.
export const ErrGRPCEmptyKey = rpcError(invalid, 'etcdserver: key is not provided');
export const ErrGRPCKeyNotFound = rpcError(invalid, 'etcdserver: key not found');
export const ErrGRPCValueProvided = rpcError(invalid, 'etcdserver: value is provided');
export const ErrGRPCLeaseProvided = rpcError(invalid, 'etcdserver: lease is provided');
export const ErrGRPCTooManyOps = rpcError(
  invalid,
  'etcdserver: too many operations in txn request',
);
export const ErrGRPCDuplicateKey = rpcError(
  invalid,
  'etcdserver: duplicate key given in txn request',
);
export const ErrGRPCCompacted = rpcError(
  Status.OUT_OF_RANGE,
  'etcdserver: mvcc: required revision has been compacted',
);
export const ErrGRPCFutureRev = rpcError(
  Status.OUT_OF_RANGE,
  'etcdserver: mvcc: required revision is a future revision',
);
export const ErrGRPCNoSpace = rpcError(
  Status.RESOURCE_EXHAUSTED,
  'etcdserver: mvcc: database space exceeded',
);

// Leases.
export const ErrGRPCLeaseNotFound = rpcError(
  Status.NOT_FOUND,
  'etcdserver: requested lease not found',
);
export const ErrGRPCLeaseExist = rpcError(precondition, 'etcdserver: lease already exists');
export const ErrGRPCLeaseTTLTooLarge = rpcError(
  Status.OUT_OF_RANGE,
  'etcdserver: too large lease TTL',
);

// Watches.
export const ErrGRPCWatchCanceled = rpcError(Status.CANCELLED, 'etcdserver: watch canceled');

// Membership.
export const ErrGRPCMemberExist = rpcError(precondition, 'etcdserver: member ID already exist');
export const ErrGRPCPeerURLExist = rpcError(precondition, 'etcdserver: Peer URLs already exists');
export const ErrGRPCMemberNotEnoughStarted = rpcError(
  precondition,
  'etcdserver: re-configuration failed due to not enough started members',
);
export const ErrGRPCMemberBadURLs = rpcError(invalid, 'etcdserver: given member URLs are invalid');
export const ErrGRPCMemberNotFound = rpcError(Status.NOT_FOUND, 'etcdserver: member not found');
export const ErrGRPCMemberNotLearner = rpcError(
  precondition,
  'etcdserver: can only promote a learner member',
);
export const ErrGRPCLearnerNotReady = rpcError(
  precondition,
  'etcdserver: can only promote a learner member which is in sync with leader',
);
export const ErrGRPCTooManyLearners = rpcError(
  precondition,
  'etcdserver: too many learner members in cluster',
);
/** etcd 3.5. */
export const ErrGRPCClusterIdMismatch = rpcError(precondition, 'etcdserver: cluster ID mismatch');

// Request limits.
export const ErrGRPCRequestTooLarge = rpcError(invalid, 'etcdserver: request is too large');
export const ErrGRPCRequestTooManyRequests = rpcError(
  Status.RESOURCE_EXHAUSTED,
  'etcdserver: too many requests',
);

// Auth.
export const ErrGRPCRootUserNotExist = rpcError(
  precondition,
  'etcdserver: root user does not exist',
);
export const ErrGRPCRootRoleNotExist = rpcError(
  precondition,
  'etcdserver: root user does not have root role',
);
export const ErrGRPCUserAlreadyExist = rpcError(
  precondition,
  'etcdserver: user name already exists',
);
export const ErrGRPCUserEmpty = rpcError(invalid, 'etcdserver: user name is empty');
export const ErrGRPCUserNotFound = rpcError(precondition, 'etcdserver: user name not found');
export const ErrGRPCRoleAlreadyExist = rpcError(
  precondition,
  'etcdserver: role name already exists',
);
export const ErrGRPCRoleNotFound = rpcError(precondition, 'etcdserver: role name not found');
export const ErrGRPCRoleEmpty = rpcError(invalid, 'etcdserver: role name is empty');
export const ErrGRPCAuthFailed = rpcError(
  invalid,
  'etcdserver: authentication failed, invalid user ID or password',
);
/** etcd 3.5. */
export const ErrGRPCPermissionNotGiven = rpcError(invalid, 'etcdserver: permission not given');
export const ErrGRPCPermissionDenied = rpcError(
  Status.PERMISSION_DENIED,
  'etcdserver: permission denied',
);
export const ErrGRPCRoleNotGranted = rpcError(
  precondition,
  'etcdserver: role is not granted to the user',
);
export const ErrGRPCPermissionNotGranted = rpcError(
  precondition,
  'etcdserver: permission is not granted to the role',
);
export const ErrGRPCAuthNotEnabled = rpcError(
  precondition,
  'etcdserver: authentication is not enabled',
);
export const ErrGRPCInvalidAuthToken = rpcError(
  Status.UNAUTHENTICATED,
  'etcdserver: invalid auth token',
);
export const ErrGRPCInvalidAuthMgmt = rpcError(invalid, 'etcdserver: invalid auth management');
export const ErrGRPCAuthOldRevision = rpcError(
  invalid,
  'etcdserver: revision of auth store is old',
);

// The server and its cluster.
export const ErrGRPCNoLeader = rpcError(unavailable, 'etcdserver: no leader');
export const ErrGRPCNotLeader = rpcError(precondition, 'etcdserver: not leader');
export const ErrGRPCLeaderChanged = rpcError(unavailable, 'etcdserver: leader changed');
export const ErrGRPCNotCapable = rpcError(unavailable, 'etcdserver: not capable');
export const ErrGRPCStopped = rpcError(unavailable, 'etcdserver: server stopped');
export const ErrGRPCTimeout = rpcError(unavailable, 'etcdserver: request timed out');
export const ErrGRPCTimeoutDueToLeaderFail = rpcError(
  unavailable,
  'etcdserver: request timed out, possibly due to previous leader failure',
);
export const ErrGRPCTimeoutDueToConnectionLost = rpcError(
  unavailable,
  'etcdserver: request timed out, possibly due to connection lost',
);
export const ErrGRPCTimeoutWaitAppliedIndex = rpcError(
  unavailable,
  'etcdserver: request timed out, waiting for the applied index took too long',
);
export const ErrGRPCUnhealthy = rpcError(unavailable, 'etcdserver: unhealthy cluster');
export const ErrGRPCCorrupt = rpcError(Status.DATA_LOSS, 'etcdserver: corrupt cluster');
/** etcd 3.4 and 3.5 spell this one ErrGPRCNotSupportedForLearner; 3.6 fixed the name. */
export const ErrGRPCNotSupportedForLearner = rpcError(
  unavailable,
  'etcdserver: rpc not supported for learner',
);
export const ErrGRPCBadLeaderTransferee = rpcError(
  precondition,
  'etcdserver: bad leader transferee',
);

// Downgrades (etcd 3.5).
export const ErrGRPCClusterVersionUnavailable = rpcError(
  unavailable,
  'etcdserver: cluster version not found during downgrade',
);
export const ErrGRPCWrongDowngradeVersionFormat = rpcError(
  invalid,
  'etcdserver: wrong downgrade target version format',
);
export const ErrGRPCInvalidDowngradeTargetVersion = rpcError(
  invalid,
  'etcdserver: invalid downgrade target version',
);
export const ErrGRPCDowngradeInProcess = rpcError(
  precondition,
  'etcdserver: cluster has a downgrade job in progress',
);
export const ErrGRPCNoInflightDowngrade = rpcError(
  precondition,
  'etcdserver: no inflight downgrade job',
);

// A request's context ended on the server (etcd 3.5).
export const ErrGRPCCanceled = rpcError(Status.CANCELLED, 'etcdserver: request canceled');
export const ErrGRPCDeadlineExceeded = rpcError(
  Status.DEADLINE_EXCEEDED,
  'etcdserver: context deadline exceeded',
);

/** The entry whose text is `message` (etcd's errStringToError), if there is one. */
export function byMessage(message: string): RpcError | undefined {
  return entries.get(message);
}

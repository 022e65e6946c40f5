import { type Metadata, type ServiceError, status as Status } from '@grpc/grpc-js';

/**
 * A server error with etcd's exact message and the gRPC status code etcd's v3rpc layer
 * answers with (api/v3rpc/rpctypes). One instance per kind, compared by `message`.
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

const e = (code: Status, message: string) => () => new EtcdServerError(message, code);

export const Errors = {
  emptyKey: e(Status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: e(Status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  tooManyOps: e(Status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(Status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: e(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(Status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: e(Status.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: e(Status.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  memberExist: e(Status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExist: e(Status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: e(
    Status.FAILED_PRECONDITION,
    'etcdserver: re-configuration failed due to not enough started members',
  ),
  memberBadURLs: e(Status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotFound: e(Status.NOT_FOUND, 'etcdserver: member not found'),
  memberNotLearner: e(Status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(
    Status.FAILED_PRECONDITION,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  requestTooLarge: e(Status.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  tooManyRequests: e(Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),
  noLeader: e(Status.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: e(Status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  leaderChanged: e(Status.UNAVAILABLE, 'etcdserver: leader changed'),
  stopped: e(Status.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: e(Status.UNAVAILABLE, 'etcdserver: request timed out'),
  unhealthy: e(Status.UNAVAILABLE, 'etcdserver: unhealthy cluster'),
  corrupt: e(Status.DATA_LOSS, 'etcdserver: corrupt cluster'),
  badLeaderTransferee: e(Status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  notCapable: e(Status.UNAVAILABLE, 'etcdserver: not capable'),
  authNotEnabled: e(Status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: e(Status.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  permissionDenied: e(Status.PERMISSION_DENIED, 'etcdserver: permission denied'),
  watchCanceled: e(Status.CANCELLED, 'etcdserver: watch canceled'),
  emptyWatcherRange: e(Status.INVALID_ARGUMENT, 'mvcc: watcher range is empty'),
} as const;

/** Errors of the packages below (mvcc, lease, auth) carry their gRPC code as `grpcCode`. */
interface CodedError {
  message: string;
  grpcCode: number;
}

function isCoded(err: unknown): err is CodedError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as CodedError).grpcCode === 'number' &&
    typeof (err as CodedError).message === 'string'
  );
}

/**
 * The gRPC error etcd would send for `err`: a known error keeps its code and message;
 * anything else is Unknown with its message (etcd's togRPCError).
 */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (isCoded(err)) {
    let message = err.message;
    // mvcc's own messages go out with the server's prefix, as etcd maps them.
    if (!message.startsWith('etcdserver: ') && /^(mvcc|lease|auth): /.test(message)) {
      const mapped = prefixed[message];
      if (mapped !== undefined) message = mapped;
    }
    return { code: err.grpcCode, details: message, message } as Partial<ServiceError>;
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: Status.UNKNOWN, details: message, message } as Partial<ServiceError>;
}

const prefixed: Record<string, string> = {
  'lease not found': 'etcdserver: requested lease not found',
  'lease already exists': 'etcdserver: lease already exists',
  'too large lease TTL': 'etcdserver: too large lease TTL',
};

/** The metadata type grpc-js hands handlers (re-exported for the services). */
export type { Metadata };

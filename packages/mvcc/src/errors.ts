/** gRPC status codes etcd returns for mvcc's errors. */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
} as const;

/**
 * Base of every mvcc error: `message` is what etcd's server sends (with its "etcdserver: "
 * prefix where etcd adds one), `mvccMessage` what etcd's mvcc package itself says, and
 * `grpcCode` the status code the server answers with.
 */
export abstract class MvccError extends Error {
  abstract readonly grpcCode: number;
  readonly mvccMessage: string;

  constructor(message: string, mvccMessage = message) {
    super(message);
    this.name = new.target.name;
    this.mvccMessage = mvccMessage;
  }
}

/** The requested revision was compacted away. */
export class CompactedError extends MvccError {
  readonly grpcCode = GrpcCode.OUT_OF_RANGE;
  constructor() {
    super(
      'etcdserver: mvcc: required revision has been compacted',
      'mvcc: required revision has been compacted',
    );
  }
}

/** The requested revision is newer than the store's. */
export class FutureRevError extends MvccError {
  readonly grpcCode = GrpcCode.OUT_OF_RANGE;
  constructor() {
    super(
      'etcdserver: mvcc: required revision is a future revision',
      'mvcc: required revision is a future revision',
    );
  }
}

/** A put with ignore_value or ignore_lease found no key to take them from. */
export class KeyNotFoundError extends MvccError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: key not found');
  }
}

/** A put named a lease the lessor does not know. */
export class LeaseNotFoundError extends MvccError {
  readonly grpcCode = GrpcCode.NOT_FOUND;
  constructor() {
    super('etcdserver: requested lease not found', 'lease not found');
  }
}

/** A request without a key. */
export class EmptyKeyError extends MvccError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: key is not provided');
  }
}

/** A txn puts the same key twice, or puts a key it also deletes. */
export class DuplicateKeyError extends MvccError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: duplicate key given in txn request');
  }
}

/** A txn with more operations (at one level) than the limit. */
export class TooManyOpsError extends MvccError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: too many operations in txn request');
  }
}

/** A txn op with none of its request fields set (etcd answers key-not-found). */
export class EmptyRequestOpError extends MvccError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  constructor() {
    super('etcdserver: key not found');
  }
}

/** The store is closed. */
export class StoreClosedError extends MvccError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('mvcc: closed');
  }
}

/** Index corruption: an operation the index cannot have produced (etcd panics here). */
export class RevisionNotFoundError extends MvccError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('mvcc: revision not found');
  }
}

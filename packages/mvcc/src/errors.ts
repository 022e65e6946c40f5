import { rpctypes } from '@etcd-ts/api';

/**
 * Base of every mvcc error: `message` is what etcd's mvcc package says. The server turns
 * these into what it sends clients (etcd's rpctypes); mvcc knows nothing of gRPC.
 */
export abstract class MvccError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The requested revision was compacted away. */
export class CompactedError extends MvccError {
  constructor() {
    super('mvcc: required revision has been compacted');
  }
}

/** The requested revision is newer than the store's. */
export class FutureRevError extends MvccError {
  constructor() {
    super('mvcc: required revision is a future revision');
  }
}

// The server's request errors that apply.ts raises while it lives in this package: they
// carry the server's text (etcd's rpctypes) and leave with apply.ts.

/** A put with ignore_value or ignore_lease found no key to take them from. */
export class KeyNotFoundError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCKeyNotFound.message);
  }
}

/** A put named a lease the lessor does not know. */
export class LeaseNotFoundError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCLeaseNotFound.message);
  }
}

/** A request without a key. */
export class EmptyKeyError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCEmptyKey.message);
  }
}

/** A txn puts the same key twice, or puts a key it also deletes. */
export class DuplicateKeyError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCDuplicateKey.message);
  }
}

/** A txn with more operations (at one level) than the limit. */
export class TooManyOpsError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCTooManyOps.message);
  }
}

/** A txn op with none of its request fields set (etcd answers key-not-found). */
export class EmptyRequestOpError extends MvccError {
  constructor() {
    super(rpctypes.ErrGRPCKeyNotFound.message);
  }
}

/** The store is closed. */
export class StoreClosedError extends MvccError {
  constructor() {
    super('mvcc: closed');
  }
}

/** Index corruption: an operation the index cannot have produced (etcd panics here). */
export class RevisionNotFoundError extends MvccError {
  constructor() {
    super('mvcc: revision not found');
  }
}

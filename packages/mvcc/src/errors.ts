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

/**
 * Base of every lessor error: `message` is what etcd's lease package says. The server turns
 * these into what it sends clients (etcd's rpctypes); the lessor knows nothing of gRPC.
 */
export abstract class LeaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The lease does not exist (or id 0, which means "no lease", was asked for). */
export class LeaseNotFoundError extends LeaseError {
  constructor() {
    super('lease not found');
  }
}

/** A grant named an id that is already in use. */
export class LeaseExistsError extends LeaseError {
  constructor() {
    super('lease already exists');
  }
}

/** A grant asked for more than MAX_LEASE_TTL seconds. */
export class LeaseTTLTooLargeError extends LeaseError {
  constructor() {
    super('too large lease TTL');
  }
}

/**
 * Only the primary lessor (the raft leader's) renews leases. etcd's server does not send
 * this to clients: it forwards the keep-alive to the leader, and answers "not leader"
 * only when it cannot.
 */
export class NotPrimaryError extends LeaseError {
  constructor() {
    super('not a primary lessor');
  }
}

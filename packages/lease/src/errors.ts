/** gRPC status codes etcd answers the lessor's errors with. */
export const GrpcCode = {
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
} as const;

/**
 * Base of every lessor error: `message` is what etcd's server sends to clients (its
 * rpctypes text), `lessorMessage` what etcd's lease package itself says, `grpcCode` the
 * status code the server answers with.
 */
export abstract class LeaseError extends Error {
  abstract readonly grpcCode: number;
  readonly lessorMessage: string;

  constructor(message: string, lessorMessage: string) {
    super(message);
    this.name = new.target.name;
    this.lessorMessage = lessorMessage;
  }
}

/** The lease does not exist (or id 0, which means "no lease", was asked for). */
export class LeaseNotFoundError extends LeaseError {
  readonly grpcCode = GrpcCode.NOT_FOUND;
  constructor() {
    super('etcdserver: requested lease not found', 'lease not found');
  }
}

/** A grant named an id that is already in use. */
export class LeaseExistsError extends LeaseError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('etcdserver: lease already exists', 'lease already exists');
  }
}

/** A grant asked for more than MAX_LEASE_TTL seconds. */
export class LeaseTTLTooLargeError extends LeaseError {
  readonly grpcCode = GrpcCode.OUT_OF_RANGE;
  constructor() {
    super('etcdserver: too large lease TTL', 'too large lease TTL');
  }
}

/**
 * Only the primary lessor (the raft leader's) renews leases. etcd's server does not send
 * this to clients: it forwards the keep-alive to the leader, and answers "etcdserver: not
 * leader" only when it cannot.
 */
export class NotPrimaryError extends LeaseError {
  readonly grpcCode = GrpcCode.FAILED_PRECONDITION;
  constructor() {
    super('not a primary lessor', 'not a primary lessor');
  }
}

/**
 * A broken invariant: a state etcd panics on (an entry out of order, an unknown entry
 * type, a backend ahead of its WAL). It is never sent to a client as an answer: the raft
 * node logs it and stops the member, which exits non-zero; what was acknowledged is in
 * the WAL and is replayed on restart.
 */
export class InvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantError';
  }
}

/** Throws an InvariantError when `cond` is false. */
export function invariant(cond: boolean, message: () => string): asserts cond {
  if (!cond) throw new InvariantError(message());
}

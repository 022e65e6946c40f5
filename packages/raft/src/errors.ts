// Errors as named classes carrying etcd raft's exact messages, so that callers
// can test with instanceof and operators see the words they know.

export class RaftError extends Error {
  override name = 'RaftError';
}

/** A proposal was dropped: no leader, a leader transfer in progress, or too many uncommitted entries. */
export class ErrProposalDropped extends RaftError {
  override name = 'ErrProposalDropped';
  constructor() {
    super('raft proposal dropped');
  }
}

/** The requested index is older than the storage's first index. */
export class ErrCompacted extends RaftError {
  override name = 'ErrCompacted';
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** A snapshot older than the one the storage already has. */
export class ErrSnapOutOfDate extends RaftError {
  override name = 'ErrSnapOutOfDate';
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/** The requested index is beyond the storage's last index. */
export class ErrUnavailable extends RaftError {
  override name = 'ErrUnavailable';
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** The storage cannot produce a snapshot right now; raft retries later. */
export class ErrSnapshotTemporarilyUnavailable extends RaftError {
  override name = 'ErrSnapshotTemporarilyUnavailable';
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** A local message (MsgHup, MsgBeat...) was handed to RawNode.step. */
export class ErrStepLocalMsg extends RaftError {
  override name = 'ErrStepLocalMsg';
  constructor() {
    super('raft: cannot step raft local message');
  }
}

/** A response came from a node that is not in the configuration. */
export class ErrStepPeerNotFound extends RaftError {
  override name = 'ErrStepPeerNotFound';
  constructor() {
    super('raft: cannot step as peer not found');
  }
}

/** The Node was stopped. */
export class ErrStopped extends RaftError {
  override name = 'ErrStopped';
  constructor() {
    super('raft: stopped');
  }
}

/** A Config that raft cannot run with; the message says which rule it breaks. */
export class ErrInvalidConfig extends RaftError {
  override name = 'ErrInvalidConfig';
}

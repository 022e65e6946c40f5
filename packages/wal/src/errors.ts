// Errors, one class per kind, with the messages etcd's wal and snap packages use.

export class WalError extends Error {
  override name = 'WalError';
}

/** A WAL directory (or one of its files) that cannot be found. */
export class ErrFileNotFound extends WalError {
  constructor(detail?: string) {
    super(detail ? `wal: file not found (${detail})` : 'wal: file not found');
  }
}

/** The metadata records of a WAL disagree, or differ from what the caller expected. */
export class ErrMetadataConflict extends WalError {
  constructor() {
    super('wal: conflicting metadata found');
  }
}

/** The WAL holds no snapshot record for the snapshot it was opened at. */
export class ErrSnapshotNotFound extends WalError {
  constructor() {
    super('wal: snapshot not found');
  }
}

/** The WAL's snapshot record at the snapshot's index has another term. */
export class ErrSnapshotMismatch extends WalError {
  constructor() {
    super('wal: snapshot mismatch');
  }
}

/** The WAL skipped past the raft index it was asked to start from. */
export class ErrSliceOutOfRange extends WalError {
  constructor() {
    super('wal: slice bounds out of range');
  }
}

/**
 * A record in the middle of the log is damaged (a CRC that does not match the chain, or
 * bytes that are not a record) while valid data follows it: this is corruption, not a torn
 * write, and nothing is repaired.
 */
export class ErrCorrupt extends WalError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt record in ${file} at offset ${offset}: ${reason}`);
  }
}

/** The WAL directory is locked by another open WAL (in this or another process). */
export class ErrLocked extends WalError {
  constructor(readonly file: string) {
    super(`wal: ${file} is locked by another process`);
  }
}

/** A WAL that has been closed. */
export class ErrClosed extends WalError {
  constructor() {
    super('wal: closed');
  }
}

export class SnapError extends Error {
  override name = 'SnapError';
}

export class ErrNoSnapshot extends SnapError {
  constructor() {
    super('snap: no available snapshot');
  }
}

export class ErrEmptySnapshot extends SnapError {
  constructor() {
    super('snap: empty snapshot');
  }
}

export class ErrSnapCRCMismatch extends SnapError {
  constructor(readonly file: string) {
    super(`snap: crc mismatch (${file})`);
  }
}

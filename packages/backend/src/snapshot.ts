import type { Database, RootDatabase } from 'lmdb';

/**
 * A consistent read of every bucket at one instant (an LMDB read transaction), from which
 * a {@link SnapshotFormat} writes a snapshot file. Close it when done: while it is open,
 * LMDB cannot reuse the pages it sees.
 */
export class BackendSnapshot {
  /** The backend file's size when the snapshot was taken (an upper bound for the stream). */
  readonly size: number;
  private readonly txn: { done(): void };
  private open = true;

  constructor(
    root: RootDatabase<Buffer, Buffer>,
    private readonly dbs: ReadonlyMap<string, Database<Buffer, Buffer>>,
    size: number,
  ) {
    this.size = size;
    this.txn = root.useReadTransaction();
  }

  /** Bucket names in byte order. */
  bucketNames(): string[] {
    return [...this.dbs.keys()];
  }

  /** The entries of `bucket` in key order, as of the snapshot. */
  *entries(bucket: string): Generator<[Buffer, Buffer]> {
    if (!this.open) throw new Error('backend: snapshot closed');
    const db = this.dbs.get(bucket);
    if (db === undefined) return;
    for (const { key, value } of db.getRange({ transaction: this.txn } as never)) {
      yield [key, value];
    }
  }

  /**
   * Streams the snapshot in `format` (etcd's: boltSnapshotFormat), closing it at the end;
   * `onSize` hears the file's size before the first chunk, when the format knows it.
   */
  async *chunks(
    format: SnapshotFormat,
    onSize?: (bytes: number) => void,
  ): AsyncGenerator<Uint8Array> {
    try {
      yield* format.write(this, onSize);
    } finally {
      this.close();
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.txn.done();
  }
}

/**
 * Turns a consistent read of the buckets into the bytes of a snapshot file: the step that
 * decides the file format, kept apart from the read so formats can be swapped
 * (boltSnapshotFormat writes etcd's).
 */
export interface SnapshotFormat {
  readonly name: string;
  /** `onSize` hears the file's size before its first byte, when the format knows it. */
  write(
    snapshot: BackendSnapshot,
    onSize?: (bytes: number) => void,
  ): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

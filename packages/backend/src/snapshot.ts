import { crc32c } from '@node-rs/crc32';
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

  /** Streams the snapshot in `format` (ours by default), closing it at the end. */
  async *chunks(format: SnapshotFormat = nativeSnapshotFormat): AsyncGenerator<Uint8Array> {
    try {
      yield* format.write(this);
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
 * Turns a consistent read of the buckets into the bytes of a snapshot file. Swappable: a
 * bbolt writer (etcd's own snapshot format) plugs in here beside ours.
 */
export interface SnapshotFormat {
  readonly name: string;
  write(snapshot: BackendSnapshot): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const MAGIC = Buffer.from('ETCDTSB1');
const REC_END = 0;
const REC_BUCKET = 1;
const REC_ENTRY = 2;
/** Chunks of about this many bytes (a gRPC SnapshotResponse blob each). */
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024;

/**
 * etcd-ts's snapshot file: "ETCDTSB1", then records — bucket (1, u32 name length, name),
 * entry (2, u32 key length, key, u32 value length, value) — and an end record (0, u32
 * CRC-32C of every byte before it). Integers are big-endian.
 */
export const nativeSnapshotFormat: SnapshotFormat = {
  name: 'etcd-ts-native-v1',
  *write(snapshot: BackendSnapshot): Generator<Uint8Array> {
    let parts: Buffer[] = [MAGIC];
    let bytes = MAGIC.length;
    let crc = 0;
    const take = (): Buffer => {
      const chunk = Buffer.concat(parts, bytes);
      crc = crc32c(chunk, crc);
      parts = [];
      bytes = 0;
      return chunk;
    };
    for (const name of snapshot.bucketNames()) {
      const nameBytes = Buffer.from(name);
      parts.push(header(REC_BUCKET, nameBytes.length), nameBytes);
      bytes += 5 + nameBytes.length;
      for (const [k, v] of snapshot.entries(name)) {
        const h = Buffer.allocUnsafe(9);
        h[0] = REC_ENTRY;
        h.writeUInt32BE(k.length, 1);
        h.writeUInt32BE(v.length, 5);
        // Key then value length: write the value length after the key.
        const kl = h.subarray(0, 5);
        const vl = h.subarray(5, 9);
        parts.push(kl, k, vl, v);
        bytes += 9 + k.length + v.length;
        if (bytes >= SNAPSHOT_CHUNK_BYTES) yield take();
      }
    }
    const last = take();
    const end = Buffer.allocUnsafe(5);
    end[0] = REC_END;
    end.writeUInt32BE(crc >>> 0, 1);
    yield Buffer.concat([last, end]);
  },
};

function header(type: number, len: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = type;
  h.writeUInt32BE(len, 1);
  return h;
}

export class SnapshotCorruptError extends Error {
  constructor(detail: string) {
    super(`backend: snapshot corrupt: ${detail}`);
    this.name = 'SnapshotCorruptError';
  }
}

/** A record read back from a snapshot stream: a bucket's start (no key) or one entry. */
export type SnapshotRecord =
  | { bucket: string; key: undefined; value: undefined }
  | { bucket: string; key: Buffer; value: Buffer };

/**
 * Parses a native snapshot stream, yielding each bucket's start and every entry; throws SnapshotCorruptError on a
 * bad magic, a truncated stream or a CRC mismatch (checked at the end, so consume all of it
 * before trusting what was yielded).
 */
export async function* readNativeSnapshot(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<SnapshotRecord> {
  let pending = Buffer.alloc(0);
  let crc = 0;
  let bucket: string | undefined;
  let sawMagic = false;
  let ended = false;
  for await (const chunk of source) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let off = 0;
    if (!sawMagic) {
      if (pending.length < MAGIC.length) continue;
      if (!pending.subarray(0, MAGIC.length).equals(MAGIC))
        throw new SnapshotCorruptError('bad magic');
      sawMagic = true;
      off = MAGIC.length;
    }
    while (!ended) {
      if (pending.length - off < 5) break;
      const type = pending[off]!;
      if (type === REC_END) {
        crc = crc32c(pending.subarray(0, off), crc);
        const want = pending.readUInt32BE(off + 1);
        if (crc >>> 0 !== want) throw new SnapshotCorruptError('crc mismatch');
        off += 5;
        ended = true;
        break;
      }
      if (type === REC_BUCKET) {
        const n = pending.readUInt32BE(off + 1);
        if (pending.length - off < 5 + n) break;
        bucket = pending.toString('utf8', off + 5, off + 5 + n);
        off += 5 + n;
        yield { bucket, key: undefined, value: undefined };
        continue;
      }
      if (type !== REC_ENTRY) throw new SnapshotCorruptError(`unknown record type ${type}`);
      const kl = pending.readUInt32BE(off + 1);
      if (pending.length - off < 9 + kl) break;
      const vl = pending.readUInt32BE(off + 5 + kl);
      const total = 9 + kl + vl;
      if (pending.length - off < total) break;
      if (bucket === undefined) throw new SnapshotCorruptError('entry before bucket');
      const key = Buffer.from(pending.subarray(off + 5, off + 5 + kl));
      const value = Buffer.from(pending.subarray(off + 9 + kl, off + total));
      off += total;
      yield { bucket, key, value };
    }
    if (off > 0) {
      if (!ended) crc = crc32c(pending.subarray(0, off), crc);
      pending = pending.subarray(off);
    }
  }
  if (!ended) throw new SnapshotCorruptError('truncated');
  if (pending.length !== 0) throw new SnapshotCorruptError('trailing bytes');
}

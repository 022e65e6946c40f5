import fs from 'node:fs';
import { type BoltBucketInput, BoltReader, writeBolt } from '@etcd-ts/bbolt';

/** The buckets of an open bbolt file, in the shape the writer takes (read again per pass). */
export function bucketsOf(db: BoltReader): BoltBucketInput[] {
  return [...db.buckets()].map((b) => ({
    name: Uint8Array.from(b.name),
    sequence: b.sequence,
    entries: () => b.pairs(),
  }));
}

/**
 * Writes `buckets` as a compact bbolt file at `path` (mode 0600), streamed page by page
 * and fsynced before it returns.
 */
export function writeBoltFile(path: string, buckets: BoltBucketInput[], pageSize: number): void {
  const fd = fs.openSync(path, 'w', 0o600);
  try {
    for (const chunk of writeBolt(buckets, { pageSize })) {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export { BoltReader };

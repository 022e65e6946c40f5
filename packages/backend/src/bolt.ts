import fs from 'node:fs';
import path from 'node:path';
import { type BoltBucketInput, BoltReader, isBoltFile, writeBolt } from '@etcd-ts/bbolt';
import { Backend, type BackendConfig } from './backend.js';
import type { BackendSnapshot, SnapshotFormat } from './snapshot.js';

/** Chunks of about this many bytes: a gRPC Snapshot blob's worth, a few pages each. */
const BOLT_CHUNK_BYTES = 64 * 1024;
/** Entries per LMDB commit while importing: bounds the write buffer. */
const IMPORT_BATCH = 10_000;

/**
 * etcd's snapshot format: the consistent read of every bucket written as a compact bbolt
 * database, what etcd's Snapshot RPC streams and `etcdctl snapshot status/restore` read.
 * Streamed: @etcd-ts/bbolt lays the file out in a first pass over the snapshot (same read
 * transaction, so the same entries), then writes pages in file order, so memory is one
 * chunk plus a page per tree level however large the store.
 */
export const boltSnapshotFormat: SnapshotFormat = {
  name: 'bbolt',
  write(snapshot: BackendSnapshot, onSize?: (bytes: number) => void): Iterable<Uint8Array> {
    const buckets: BoltBucketInput[] = snapshot.bucketNames().map((name) => ({
      name: Buffer.from(name),
      entries: () => snapshot.entries(name),
    }));
    return writeBolt(buckets, { chunkBytes: BOLT_CHUNK_BYTES, ...(onSize ? { onSize } : {}) });
  },
};

export { isBoltFile };

/** What an import carried over. */
export interface BoltImport {
  buckets: number;
  entries: number;
}

/**
 * Converts the bbolt database at `config.path` (an etcd data dir's `member/snap/db`, or a
 * snapshot restored by etcdctl) into this package's LMDB backend at the same path, every
 * bucket name and key/value byte as it was. The LMDB file is built at
 * `<path>.importing`, committed with fsync, renamed over the bbolt file and the directory
 * synced: a crash at any point leaves either the untouched bbolt file (the import runs
 * again) or the complete backend. Reads the bbolt file page by page (bounded memory).
 */
export async function importBoltDb(config: BackendConfig): Promise<BoltImport> {
  const target = path.resolve(config.path);
  const tmp = `${target}.importing`;
  const result = await convertBolt(target, tmp, config);
  fs.renameSync(tmp, target);
  fs.rmSync(`${tmp}-lock`, { force: true });
  if (config.noSync !== true) syncDir(path.dirname(target));
  return result;
}

/**
 * Writes the bbolt database at `source` as a new LMDB backend at `target` (replaced if it
 * exists), committed and, unless `noSync`, fsynced; the caller renames it into place.
 */
export async function convertBolt(
  source: string,
  target: string,
  config: Omit<BackendConfig, 'path'>,
): Promise<BoltImport> {
  fs.rmSync(target, { force: true });
  fs.rmSync(`${target}-lock`, { force: true });
  const reader = BoltReader.open(source);
  let be: Backend | undefined;
  const result: BoltImport = { buckets: 0, entries: 0 };
  try {
    be = Backend.open({ ...config, path: target, batchInterval: 0 });
    for (const bucket of reader.buckets()) {
      const name = Buffer.from(bucket.name).toString('utf8');
      if (!Buffer.from(name).equals(Buffer.from(bucket.name)))
        throw new Error(
          `backend: bbolt bucket name ${Buffer.from(bucket.name).toString('hex')} is not UTF-8`,
        );
      be.lock();
      be.createBucket(name);
      be.unlock();
      result.buckets++;
      for (const [key, value] of bucket.pairs()) {
        be.lock();
        be.put(name, key, value);
        be.unlock();
        result.entries++;
        if (be.pending >= IMPORT_BATCH) be.forceCommit();
      }
    }
    await be.close();
  } catch (err) {
    if (be !== undefined && !be.isClosed) await be.close();
    fs.rmSync(target, { force: true });
    fs.rmSync(`${target}-lock`, { force: true });
    throw err;
  } finally {
    reader.close();
  }
  if (config.noSync !== true) {
    const fd = fs.openSync(target, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
  return result;
}

/** fsync of a directory, so a rename in it survives a crash. */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/**
 * Replaces the contents of the open backend `be` with the bbolt database at `boltPath`
 * (the database of a raft snapshot from the leader, as etcd 3.4 sends it), converted beside
 * it first: a crash leaves the old backend whole. `boltPath` is left for the caller to remove.
 */
export async function restoreFromBolt(
  be: Backend,
  boltPath: string,
  config: { noSync?: boolean } = {},
): Promise<BoltImport> {
  const tmp = `${be.path}.restoring`;
  const result = await convertBolt(boltPath, tmp, config);
  await be.replaceWith(tmp);
  return result;
}

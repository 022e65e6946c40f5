import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { type Database, open, type RootDatabase } from 'lmdb';
import { asBuffer, toBinaryString } from './bytes.js';
import { type BackendLogger, noopLogger } from './logger.js';
import { BackendSnapshot } from './snapshot.js';
import { TxBuffer } from './tx_buffer.js';

/** etcd's defaults: commit the batch every 100 ms or every 10,000 operations. */
export const DEFAULT_BATCH_INTERVAL_MS = 100;
export const DEFAULT_BATCH_LIMIT = 10_000;
/** Virtual address space reserved for the memory map (not disk): 64 GiB. */
export const DEFAULT_MAP_SIZE = 64 * 1024 ** 3;
/** LMDB needs a fixed number of named databases; etcd uses ten buckets. */
export const MAX_BUCKETS = 64;
/**
 * The longest key LMDB stores (its page size allows 1978 bytes). bbolt takes up to 32 KiB:
 * a longer key is refused when it is written, as a request error, rather than at commit
 * time, where it would fail the whole batch.
 */
export const MAX_KEY_BYTES = 1978;

/** A key longer than MAX_KEY_BYTES. */
export class KeyTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`backend: key of ${bytes} bytes is larger than the maximum key size (${MAX_KEY_BYTES})`);
    this.name = 'KeyTooLargeError';
  }
}

function checkKeySize(key: Uint8Array): void {
  if (key.length > MAX_KEY_BYTES) throw new KeyTooLargeError(key.length);
}

export interface BackendConfig {
  /** The database file (its lock file sits beside it as `<path>-lock`). */
  path: string;
  /** Commit the batch this often (ms); 0 disables the timer (commit on limit or on demand). */
  batchInterval?: number;
  /** Commit the batch once it holds this many operations (checked at `unlock`). */
  batchLimit?: number;
  /** Size of the memory map in bytes (bounds the file size). */
  mapSize?: number;
  /** Skip fsync on commit (tests and benchmarks only: a power loss may lose the file). */
  noSync?: boolean;
  logger?: BackendLogger;
  /**
   * A commit failed: what the batch held is lost to this file, so the owner must stop and
   * replay its log (etcd panics). The backend refuses every later commit.
   */
  onFatal?: (err: Error) => void;
}

/** Runs inside the commit, before the batch is written: what it puts is committed with it. */
export type PreCommitHook = (tx: BatchTx) => void;

/** A key/value pair that `hash` leaves out (etcd's IgnoreKey). */
export interface HashIgnore {
  bucket: string;
  key: Uint8Array;
}

/** What etcd's corruption check leaves out of the backend hash: the apply position. */
export const DEFAULT_HASH_IGNORES: readonly HashIgnore[] = [
  { bucket: 'meta', key: Buffer.from('consistent_index') },
  { bucket: 'meta', key: Buffer.from('term') },
];

export interface RangeResult {
  keys: Buffer[];
  values: Buffer[];
}

/** Reads over committed data plus the open batch's writes (etcd's ReadTx). */
export interface ReadTx {
  /** The value at `key`, or undefined. The bytes are the caller's to keep. */
  get(bucket: string, key: Uint8Array): Buffer | undefined;
  /**
   * Like `get`, but the bytes are only valid until the next backend call (etcd's
   * "unsafe" reads): decode or copy them at once. Cheaper on the hot read path.
   */
  getTransient(bucket: string, key: Uint8Array): Uint8Array | undefined;
  /** Entries with key in [start, end) in key order (end undefined: to the bucket's end). */
  range(bucket: string, start: Uint8Array, end?: Uint8Array, limit?: number): RangeResult;
  /**
   * Calls `fn` for each entry with key in [start, end) in key order; `fn` returning false
   * stops the walk. The key is the callee's to keep; the value is only valid during the
   * call (copy it to keep it). `fn` must not write to the backend: collect, then write.
   */
  forEach(
    bucket: string,
    fn: (key: Buffer, value: Uint8Array) => boolean | undefined,
    start?: Uint8Array,
    end?: Uint8Array,
  ): void;
}

/** The batch write transaction (etcd's BatchTx): buffered puts, committed in batches. */
export interface BatchTx extends ReadTx {
  /** Opens a transaction boundary: the batch is never committed between lock and unlock. */
  lock(): void;
  /** Closes it; commits when the batch has reached its operation limit. */
  unlock(): void;
  createBucket(bucket: string): void;
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  /**
   * A put of a key that sorts after every key written to the bucket in this batch (etcd's
   * UnsafeSeqPut, meant for the key bucket's ever-increasing revisions): key and value are
   * copied into the batch's byte arenas, allocating nothing per write, and reads of older
   * keys skip the batch with one comparison. Any key is accepted; one out of order costs
   * what `put` costs.
   */
  seqPut(bucket: string, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: string, key: Uint8Array): void;
  /** Operations waiting to be committed. */
  readonly pending: number;
}

interface Env {
  root: RootDatabase<Buffer, Buffer>;
  dbs: Map<string, Database<Buffer, Buffer>>;
  /** Second handles on the same buckets whose reads yield transient views (see viewDb). */
  views: Map<string, Database<Uint8Array, Buffer>>;
}

/**
 * lmdb-js hands a custom decoder the value in its shared read buffer (or the memory map)
 * without copying it first; this one returns a view of exactly the value's bytes. A cursor
 * walk over such a handle costs a third of keys-then-get and allocates no value copies.
 */
const VIEW_DECODER = {
  encode: (value: Uint8Array) => value,
  decode: (bytes: Uint8Array, size: number) => new Uint8Array(bytes.buffer, bytes.byteOffset, size),
};

/**
 * etcd's backend on LMDB: named databases play bbolt's buckets, one write buffer batches
 * every put into a single LMDB write transaction per commit, and readers see the batch
 * through the same buffer. Every method is synchronous except `defrag` and `close`.
 */
export class Backend implements BatchTx {
  readonly path: string;
  private env: Env;
  private readonly buffer = new TxBuffer();
  private readonly batchLimit: number;
  private readonly logger: BackendLogger;
  private readonly hooks: PreCommitHook[] = [];
  private readonly mapSize: number;
  private readonly noSync: boolean;
  private timer: NodeJS.Timeout | undefined;
  private locked = false;
  /** Set while defrag copies the file: commits wait, writes keep buffering. */
  private commitsHeld = false;
  /** Settles when the defrag or restore that holds commits ends. */
  private holding: Promise<void> | undefined;
  private closed = false;
  private commitCount = 0;
  /** Why the backend refuses to commit: a failed commit, or its owner abandoned it. */
  private failure: Error | undefined;
  private readonly onFatal: ((err: Error) => void) | undefined;

  private constructor(config: BackendConfig) {
    this.path = path.resolve(config.path);
    this.batchLimit = config.batchLimit ?? DEFAULT_BATCH_LIMIT;
    this.logger = config.logger ?? noopLogger;
    this.mapSize = config.mapSize ?? DEFAULT_MAP_SIZE;
    this.noSync = config.noSync ?? false;
    this.onFatal = config.onFatal;
    if (!(this.batchLimit >= 1)) throw new RangeError(`batchLimit must be >= 1`);
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    this.env = this.openEnv(this.path);
    const interval = config.batchInterval ?? DEFAULT_BATCH_INTERVAL_MS;
    if (interval > 0) {
      this.timer = setInterval(() => this.commitOnTimer(), interval);
      this.timer.unref();
    }
  }

  /** Opens (creating when missing) the backend file at `config.path`. */
  static open(config: BackendConfig): Backend {
    return new Backend(config);
  }

  /** The batch transaction; the backend is its own BatchTx. */
  get batchTx(): BatchTx {
    return this;
  }

  /** A read view: committed data plus the open batch. */
  get readTx(): ReadTx {
    return this;
  }

  get pending(): number {
    return this.buffer.pending;
  }

  /** Number of LMDB write transactions committed since open (for tests and metrics). */
  get commits(): number {
    return this.commitCount;
  }

  addPreCommitHook(hook: PreCommitHook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  // ---- BatchTx ----

  lock(): void {
    this.assertOpen();
    if (this.locked) throw new Error('backend: batch tx is already locked');
    this.locked = true;
  }

  unlock(): void {
    if (!this.locked) throw new Error('backend: batch tx is not locked');
    this.locked = false;
    if (this.buffer.pending >= this.batchLimit) this.commit();
  }

  createBucket(bucket: string): void {
    this.assertOpen();
    this.db(bucket, true);
  }

  put(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.assertOpen();
    checkKeySize(key);
    this.db(bucket, true);
    // Copy: the caller may reuse its buffers, and the write lives until the commit.
    this.buffer.put(bucket, key, Buffer.from(value));
  }

  seqPut(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.assertOpen();
    checkKeySize(key);
    this.db(bucket, true);
    this.buffer.seqPut(bucket, key, value);
  }

  delete(bucket: string, key: Uint8Array): void {
    this.assertOpen();
    this.db(bucket, true);
    this.buffer.delete(bucket, key);
  }

  // ---- ReadTx ----

  get(bucket: string, key: Uint8Array): Buffer | undefined {
    this.assertOpen();
    const writes = this.buffer.bucket(bucket);
    if (writes !== undefined) {
      const v = writes.get(key);
      if (v !== undefined) return v === null ? undefined : Buffer.from(v);
    }
    const db = this.db(bucket, false);
    if (db === undefined) return undefined;
    return db.getBinary(asBuffer(key));
  }

  getTransient(bucket: string, key: Uint8Array): Uint8Array | undefined {
    this.assertOpen();
    const writes = this.buffer.bucket(bucket);
    if (writes !== undefined) {
      const v = writes.get(key);
      if (v !== undefined) return v === null ? undefined : v;
    }
    const db = this.db(bucket, false);
    if (db === undefined) return undefined;
    return fastValue(db, asBuffer(key));
  }

  range(bucket: string, start: Uint8Array, end?: Uint8Array, limit?: number): RangeResult {
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    const max = limit !== undefined && limit > 0 ? limit : Number.POSITIVE_INFINITY;
    if (max === 0) return { keys, values };
    this.forEach(
      bucket,
      (k, v) => {
        keys.push(k);
        values.push(Buffer.from(v));
        return keys.length < max;
      },
      start,
      end,
    );
    return { keys, values };
  }

  forEach(
    bucket: string,
    fn: (key: Buffer, value: Uint8Array) => boolean | undefined,
    start?: Uint8Array,
    end?: Uint8Array,
  ): void {
    this.assertOpen();
    const db = this.db(bucket, false);
    const startKey = start === undefined ? Buffer.alloc(0) : asBuffer(start);
    const endKey = end === undefined || end.byteLength === 0 ? undefined : asBuffer(end);
    const buffered = this.buffer.rangeOf(bucket, startKey, endKey);
    if (db === undefined) {
      for (const [k, v] of buffered) if (v !== null && fn(k, v) === false) return;
      return;
    }
    const opts: { start: Buffer; end?: Buffer } = { start: startKey };
    if (endKey !== undefined) opts.end = endKey;
    // One cursor step per entry yields key and value together; the value is a view into
    // lmdb-js's shared read buffer or the memory map (see viewDb), why values are only
    // valid in the callback.
    const it = this.viewDb(bucket)!.getRange(opts)[Symbol.iterator]();
    try {
      let next = it.next();
      let bi = 0;
      while (true) {
        const fromDb = next.done === true ? undefined : next.value;
        const fromBuf = bi < buffered.length ? buffered[bi] : undefined;
        if (fromDb === undefined && fromBuf === undefined) return;
        const order =
          fromDb === undefined
            ? 1
            : fromBuf === undefined
              ? -1
              : Buffer.compare(fromDb.key, fromBuf[0]);
        if (order < 0) {
          if (fn(fromDb!.key, fromDb!.value) === false) return;
          next = it.next();
        } else {
          // Buffered (and maybe shadowing a committed entry of the same key).
          if (order === 0) next = it.next();
          bi++;
          const v = fromBuf![1];
          if (v !== null && fn(fromBuf![0], v) === false) return;
        }
      }
    } finally {
      it.return?.();
    }
  }

  // ---- commits ----

  /** Commits the batch now (etcd's ForceCommit); a no-op while a defrag holds commits. */
  forceCommit(): void {
    this.assertOpen();
    this.commit();
  }

  /**
   * Commits the batch once no defrag or restore holds commits (etcd's ForceCommit, which
   * waits for the batch lock a defrag holds): what a raft snapshot needs before it may
   * release the WAL behind it.
   */
  async forceCommitWhenFree(): Promise<void> {
    while (this.holding !== undefined) await this.holding;
    this.forceCommit();
  }

  private commitOnTimer(): void {
    if (this.closed || this.locked || this.failure !== undefined) return;
    try {
      this.commit();
    } catch (err) {
      this.logger.error({ err: String(err) }, 'failed to commit backend batch');
    }
  }

  /**
   * Stops all commits for good (the owner hit a broken invariant): the open batch is never
   * written, as when etcd panics; its log replays it after a restart.
   */
  abandon(reason: Error): void {
    this.failure ??= reason;
  }

  /** Why commits stopped, if they did. */
  get failed(): Error | undefined {
    return this.failure;
  }

  private commit(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.commitsHeld) return;
    for (const hook of this.hooks) hook(this);
    if (this.buffer.pending === 0) return;
    const drained = this.buffer.drain();
    const { root } = this.env;
    try {
      this.writeBatch(root, drained);
    } catch (err) {
      // The drained writes are gone from the buffer and not in the file: nothing after
      // this may be committed over the hole.
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.logger.error(
        { err: this.failure.message },
        'backend commit failed; refusing further commits',
      );
      this.onFatal?.(this.failure);
      throw this.failure;
    }
    this.commitCount++;
  }

  private writeBatch(
    root: RootDatabase<Buffer, Buffer>,
    drained: ReturnType<TxBuffer['drain']>,
  ): void {
    root.transactionSync(() => {
      for (const { bucket, writes } of drained) {
        const db = this.db(bucket, true)!;
        // LMDB appends in O(1) when a key sorts after every key of the database (MDB_APPEND):
        // the key bucket is written in revision order, so almost every commit qualifies.
        let appendFrom = writes.length;
        const last = lastKey(db);
        if (last === undefined) appendFrom = 0;
        else {
          for (let i = writes.length - 1; i >= 0; i--) {
            if (Buffer.compare(writes[i]![0], last) <= 0) {
              appendFrom = i + 1;
              break;
            }
            if (i === 0) appendFrom = 0;
          }
        }
        for (let i = 0; i < writes.length; i++) {
          const [key, v] = writes[i]!;
          if (v === null) db.removeSync(key);
          else if (i >= appendFrom) db.putSync(key, v, { append: true });
          else db.putSync(key, v);
        }
      }
    });
  }

  // ---- maintenance ----

  /** Bytes the database file takes: LMDB's high-water mark of pages. */
  size(): number {
    this.assertOpen();
    const stats = this.env.root.getStats() as { lastPageNumber: number; pageSize: number };
    return (stats.lastPageNumber + 1) * stats.pageSize;
  }

  /**
   * Bytes of pages that hold data: every bucket's branch, leaf and overflow pages plus the
   * catalogue, freelist and the two meta pages. `size() - sizeInUse()` is what defrag frees.
   */
  sizeInUse(): number {
    this.assertOpen();
    const { root } = this.env;
    const stats = root.getStats() as PageStats & { free: PageStats; root: PageStats };
    let pages = 2 + pagesOf(stats.root) + pagesOf(stats.free);
    for (const name of this.bucketNames()) {
      pages += pagesOf(this.db(name, false)!.getStats() as PageStats);
    }
    return pages * stats.pageSize;
  }

  /**
   * Entries committed to `bucket` (LMDB keeps the count: no walk); the open batch's
   * writes are not counted. 0 for a bucket that does not exist.
   */
  committedCount(bucket: string): number {
    this.assertOpen();
    const db = this.db(bucket, false);
    return db === undefined ? 0 : (db.getStats() as { entryCount: number }).entryCount;
  }

  /** The names of every bucket in the file, in byte order (bbolt's root order). */
  bucketNames(): string[] {
    this.assertOpen();
    const names: string[] = [];
    for (const key of this.env.root.getKeys({})) names.push(bucketNameOf(key));
    return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  }

  /**
   * CRC-32C (Castagnoli) over every bucket's name and entries, buckets in name order,
   * entries in key order, skipping `ignores` (etcd's backend Hash). Commits the batch first.
   */
  hash(ignores: readonly HashIgnore[] = DEFAULT_HASH_IGNORES): number {
    this.assertNotDefragmenting();
    this.forceCommit();
    const skip = new Set(ignores.map((i) => `${i.bucket}\u0000${toBinaryString(i.key)}`));
    let crc = 0;
    for (const name of this.bucketNames()) {
      crc = crc32c(Buffer.from(name), crc);
      this.forEach(name, (key, value) => {
        if (skip.size > 0 && skip.has(`${name}\u0000${toBinaryString(key)}`)) return true;
        crc = crc32c(asBuffer(value), crc32c(key, crc));
        return true;
      });
    }
    return crc >>> 0;
  }

  /**
   * A consistent read of every bucket as of now (the batch committed first), for streaming
   * a snapshot out; close it when done, it pins a read transaction.
   */
  snapshot(): BackendSnapshot {
    this.assertNotDefragmenting();
    this.forceCommit();
    const { root } = this.env;
    const names = this.bucketNames();
    const dbs = names.map((n) => [n, this.db(n, false)!] as const);
    return new BackendSnapshot(root, new Map(dbs), this.size());
  }

  /**
   * Rewrites the file compactly and swaps the copy in (etcd's defrag). Writes keep landing
   * in the buffer meanwhile; their commit waits until the new file is in place.
   */
  async defrag(): Promise<void> {
    this.assertOpen();
    if (this.commitsHeld) throw new Error('backend: defrag already in progress');
    const started = performance.now();
    const sizeBefore = this.size();
    this.commit();
    this.commitsHeld = true;
    let release = () => {};
    this.holding = new Promise((r) => {
      release = r;
    });
    const tmp = `${this.path}.defrag`;
    try {
      fs.rmSync(tmp, { force: true });
      fs.rmSync(`${tmp}-lock`, { force: true });
      await this.env.root.backup(tmp, true);
      const old = this.env;
      // Swap in one synchronous step so readers never see a closed environment.
      this.env = this.openEnv(tmp);
      await old.root.close();
      fs.renameSync(tmp, this.path);
      fs.rmSync(`${tmp}-lock`, { force: true });
    } finally {
      this.commitsHeld = false;
      this.holding = undefined;
      release();
    }
    if (this.closed) return;
    this.commit();
    this.logger.info(
      {
        path: this.path,
        'current-db-size-bytes-diff': this.size() - sizeBefore,
        'current-db-size-bytes': this.size(),
        took: `${Math.round(performance.now() - started)}ms`,
      },
      'finished defragmenting directory',
    );
  }

  /**
   * Replaces everything the backend holds with the LMDB file at `file` (built beside this
   * one), which is renamed into place: how a member installs the database of a raft
   * snapshot from its leader (etcd's openSnapshotBackend). The open batch is discarded —
   * the new file supersedes it — and readers see the old file or the new one, never a mix.
   */
  async replaceWith(file: string): Promise<void> {
    this.assertOpen();
    if (this.commitsHeld) throw new Error('backend: replace during defrag');
    this.buffer.drain();
    this.commitsHeld = true;
    try {
      const old = this.env;
      this.env = this.openEnv(file);
      await old.root.close();
      fs.renameSync(file, this.path);
      fs.rmSync(`${file}-lock`, { force: true });
      if (!this.noSync) {
        const dir = fs.openSync(path.dirname(this.path), 'r');
        fs.fsyncSync(dir);
        fs.closeSync(dir);
      }
    } finally {
      this.commitsHeld = false;
    }
  }

  /** Commits the batch and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== undefined) clearInterval(this.timer);
    while (this.commitsHeld) await new Promise((r) => setTimeout(r, 5));
    // An abandoned backend closes without writing its batch.
    if (this.failure === undefined) this.commit();
    this.closed = true;
    await this.env.root.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- internals ----

  private openEnv(file: string): Env {
    const root = open<Buffer, Buffer>({
      path: file,
      noSubdir: true,
      maxDbs: MAX_BUCKETS,
      mapSize: this.mapSize,
      keyEncoding: 'binary',
      encoding: 'binary',
      noSync: this.noSync,
      // Synchronous commits only: we never queue async writes, so the write thread stays idle.
      overlappingSync: false,
    });
    const env: Env = { root, dbs: new Map(), views: new Map() };
    for (const key of root.getKeys({})) {
      const name = bucketNameOf(key);
      env.dbs.set(name, root.openDB(name, { keyEncoding: 'binary', encoding: 'binary' }));
    }
    return env;
  }

  private db(bucket: string, create: true): Database<Buffer, Buffer>;
  private db(bucket: string, create: boolean): Database<Buffer, Buffer> | undefined;
  private db(bucket: string, create: boolean): Database<Buffer, Buffer> | undefined {
    let db = this.env.dbs.get(bucket);
    if (db === undefined && create) {
      if (bucket.length === 0) throw new Error('backend: empty bucket name');
      db = this.env.root.openDB(bucket, { keyEncoding: 'binary', encoding: 'binary' });
      this.env.dbs.set(bucket, db);
    }
    return db;
  }

  /** The view-decoding handle on `bucket` (opened on first use), undefined when missing. */
  private viewDb(bucket: string): Database<Uint8Array, Buffer> | undefined {
    let view = this.env.views.get(bucket);
    if (view === undefined) {
      if (!this.env.dbs.has(bucket)) return undefined;
      view = this.env.root.openDB(bucket, {
        keyEncoding: 'binary',
        encoder: VIEW_DECODER,
      } as never) as unknown as Database<Uint8Array, Buffer>;
      this.env.views.set(bucket, view);
    }
    return view;
  }

  /** Hash and snapshot must see every write, and writes wait for defrag to commit. */
  private assertNotDefragmenting(): void {
    if (this.commitsHeld) throw new Error('backend: defrag in progress');
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('backend: closed');
  }
}

interface PageStats {
  pageSize: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
}

function pagesOf(s: PageStats): number {
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}

/** LMDB's catalogue stores a named database's name NUL-terminated. */
function bucketNameOf(catalogueKey: Uint8Array): string {
  const b = Buffer.from(catalogueKey);
  const end = b.length > 0 && b[b.length - 1] === 0 ? b.length - 1 : b.length;
  return b.toString('utf8', 0, end);
}

/**
 * A view of the value at `key` in lmdb-js's shared read buffer (getBinaryFast), trimmed to
 * the value: the Buffer getBinaryFast returns spans the whole shared buffer with only its
 * `length` property set to the value's, which native consumers (CRC) would not respect.
 */
function fastValue(db: Database<Buffer, Buffer>, key: Buffer): Uint8Array | undefined {
  const v = db.getBinaryFast(key);
  return v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.length);
}

function lastKey(db: Database<Buffer, Buffer>): Buffer | undefined {
  for (const key of db.getKeys({ reverse: true, limit: 1 })) return key;
  return undefined;
}

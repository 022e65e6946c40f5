import { availableParallelism } from 'node:os';
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import type { Backend, BackendLogger } from '@etcd-ts/backend';
import { noopLogger } from '@etcd-ts/backend';
import { crc32c } from '@node-rs/crc32';
import {
  decodeKeyValue,
  decodeKeyValueFields,
  encodeKeyValueParts,
  type KeyValue,
} from './codec.js';
import { CompactedError, FutureRevError, StoreClosedError } from './errors.js';
import { RUN } from './key_table.js';
import type { RestoreOrderMessage, RestoreOrderReply } from './restore_order.js';
import {
  bytesToRev,
  isTombstone,
  REV_BYTES_LEN,
  readUint64BE,
  revSetKey,
  revToBytes,
  writeRevBytes,
  writeUint64BE,
} from './revision.js';
import { TreeIndex } from './tree_index.js';

export const KEY_BUCKET = 'key';
export const META_BUCKET = 'meta';
const CONSISTENT_INDEX_KEY = Buffer.from('consistent_index');
const TERM_KEY = Buffer.from('term');
const SCHEDULED_COMPACT_KEY = Buffer.from('scheduledCompactRev');
const FINISHED_COMPACT_KEY = Buffer.from('finishedCompactRev');

/** etcd's defaults: physical compaction deletes 1000 revisions, then pauses 10 ms. */
export const DEFAULT_COMPACTION_BATCH_LIMIT = 1000;
export const DEFAULT_COMPACTION_SLEEP_INTERVAL_MS = 10;
/** Entries read per chunk while rebuilding the index on open. */
const RESTORE_CHUNK = 10_000;
/** Entries hashByRevAsync hashes between turns of the event loop. */
export const HASH_YIELD_ENTRIES = 10_000;
/**
 * Backends at least this large rebuild the index with a second thread sorting the keys
 * (see restore_order.ts); below it, starting the thread costs more than it saves.
 */
export const PARALLEL_RESTORE_BYTES = 64 * 1024 * 1024;
/** The rebuild waits at most this long for the ordering thread before sorting by itself. */
const RESTORE_ORDER_WAIT_MS = 10_000;

/** The ordering thread of a rebuild in progress. */
interface RestoreOrderThread {
  worker: Worker;
  port: MessagePort;
  done: Int32Array;
  /** Keys (by ordinal, from 0) handed to it so far; -1 once handing over failed. */
  handed: number;
}

/**
 * How mvcc reaches the lessor without importing it (etcd's lease.Lessor as mvcc uses it):
 * a put attaches its key to its lease and detaches it from the key's previous lease, a
 * delete detaches, and restore re-attaches every leased key.
 */
export interface LeaseLinker {
  attach(leaseId: bigint, key: Uint8Array): void;
  detach(leaseId: bigint, key: Uint8Array): void;
  /** Whether the lease exists (etcd's lessor.Lookup(id) != nil). */
  leaseExists(leaseId: bigint): boolean;
  /** The lease `key` is attached to, 0n when none. */
  getLease(key: Uint8Array): bigint;
}

export interface StoreConfig {
  lessor?: LeaseLinker;
  logger?: BackendLogger;
  compactionBatchLimit?: number;
  /** Pause between compaction batches (ms), so writes interleave with a long compaction. */
  compactionSleepInterval?: number;
  /**
   * Rebuild the index with a second thread ordering the keys when the backend is at least
   * this many bytes (default PARALLEL_RESTORE_BYTES; Infinity: never).
   */
  parallelRestoreBytes?: number;
}

export interface RangeOptions {
  /** Read at this revision (0: the current one). */
  rev?: number;
  /** At most this many keys (0: no limit); `count` still counts them all. */
  limit?: number;
  /** Only count the keys. */
  count?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** The store revision the read saw (the current one, also for reads in the past). */
  rev: number;
  /** Number of keys in the range at the read revision (regardless of limit). */
  count: number;
}

/** A read view of the store (etcd's TxnRead). */
export interface TxnRead {
  /** The revision reads see by default. */
  rev(): number;
  /** The compacted revision: reads below it fail. */
  firstRev(): number;
  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, opts?: RangeOptions): RangeResult;
}

/** A write transaction (etcd's TxnWrite): every change gets main revision rev()+1. */
export interface TxnWrite extends TxnRead {
  put(key: Uint8Array, value: Uint8Array, lease?: bigint): number;
  /** Deletes the range; returns how many keys went and the revision the txn will have. */
  deleteRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): { deleted: number; rev: number };
  /** The changes so far: puts, and deletes (create revision 0, mod revision the txn's). */
  changes(): readonly KeyValue[];
  /** Whether the txn changed anything so far (without decoding the changes). */
  hasChanges(): boolean;
  /** Ends the txn: the store revision advances when it changed anything. */
  end(): void;
}

/** Result of a HashKV (etcd's HashByRev). */
export interface HashKVResult {
  hash: number;
  /** The store's current revision. */
  rev: number;
  compactRev: number;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function toBinary(bytes: Uint8Array): string {
  return (
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  ).toString('latin1');
}

function fromBinary(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * Converts a wire range end to the index's convention: empty means the single key,
 * "\0" means every key >= key, anything else is the exclusive end.
 */
export function rangeEndToIndex(rangeEnd: Uint8Array | undefined): string | undefined {
  if (rangeEnd === undefined || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return '';
  return toBinary(rangeEnd);
}

/**
 * etcd's multi-version store: every write makes a new revision; the key bucket keeps every
 * revision until compaction; the in-memory TreeIndex maps keys to their revisions. All
 * calls are synchronous except compaction's physical removal, which runs in the background
 * in bounded batches.
 */
export class KVStore {
  protected backend: Backend;
  protected index = new TreeIndex();
  protected readonly logger: BackendLogger;
  private readonly lessor: LeaseLinker | undefined;
  private readonly compactionBatchLimit: number;
  private readonly compactionSleepInterval: number;
  private readonly parallelRestoreBytes: number;
  private currentRev = 1;
  private compactMainRev = -1;
  private consistentIdx = 0;
  private consistentTerm = 0;
  private savedIdx = -1;
  private savedTerm = -1;
  private compactionChain: Promise<void> = Promise.resolve();
  private closed = false;
  private writing = false;
  private removeHook: () => void = () => {};
  /** Bumped when a snapshot replaces the backend: compactions of the old one stop. */
  private generation = 0;
  private readonly scratch = Buffer.allocUnsafe(REV_BYTES_LEN);
  private readonly revScratch = Buffer.allocUnsafe(REV_BYTES_LEN);
  /** Keys/second of the last index rebuild, for logs and benchmarks. */
  restoreStats = { keys: 0, revisions: 0, ms: 0, orderedByThread: false };

  constructor(backend: Backend, config: StoreConfig = {}) {
    this.backend = backend;
    this.lessor = config.lessor;
    this.logger = config.logger ?? noopLogger;
    this.compactionBatchLimit = config.compactionBatchLimit ?? DEFAULT_COMPACTION_BATCH_LIMIT;
    this.compactionSleepInterval =
      config.compactionSleepInterval ?? DEFAULT_COMPACTION_SLEEP_INTERVAL_MS;
    this.parallelRestoreBytes = config.parallelRestoreBytes ?? PARALLEL_RESTORE_BYTES;
    this.attach(backend);
    this.restore();
  }

  private attach(backend: Backend): void {
    backend.lock();
    backend.createBucket(KEY_BUCKET);
    backend.createBucket(META_BUCKET);
    backend.unlock();
    // The consistent index rides with every batch: whatever the batch holds was applied
    // up to (and including) this raft entry.
    this.removeHook = backend.addPreCommitHook((tx) => {
      if (this.consistentIdx !== this.savedIdx) {
        tx.put(META_BUCKET, CONSISTENT_INDEX_KEY, uint64(this.consistentIdx));
        this.savedIdx = this.consistentIdx;
      }
      if (this.consistentTerm !== this.savedTerm) {
        tx.put(META_BUCKET, TERM_KEY, uint64(this.consistentTerm));
        this.savedTerm = this.consistentTerm;
      }
    });
  }

  /**
   * Replaces the store's contents with `backend`'s (a raft snapshot was installed; etcd's
   * store.Restore): background compaction of the old backend stops, the index is rebuilt
   * from the new one, leased keys are re-attached. The caller closes the old backend.
   * `beforeRebuild` runs once the store has let go of the old history and before it reads
   * the new (where the lessor reloads, so the keys attach to the new leases).
   */
  restoreFrom(backend: Backend, beforeRebuild?: () => void): void {
    this.assertOpen();
    if (this.writing) throw new Error('mvcc: cannot restore during a write txn');
    this.generation++;
    // From here on this store writes nothing to the backend (its consistent index belongs
    // to the history being replaced) until it has read the new one.
    this.removeHook();
    beforeRebuild?.();
    this.backend = backend;
    this.index = new TreeIndex();
    this.currentRev = 1;
    this.compactMainRev = -1;
    this.consistentIdx = 0;
    this.consistentTerm = 0;
    this.savedIdx = -1;
    this.savedTerm = -1;
    this.compactionChain = Promise.resolve();
    this.attach(backend);
    this.restore();
  }

  // ---- revisions and the consistent index ----

  /** The current store revision. */
  rev(): number {
    return this.currentRev;
  }

  /** The compacted revision (-1 when never compacted). */
  compactRev(): number {
    return this.compactMainRev;
  }

  /** The raft index (and term) of the last applied entry, as stored with the data. */
  consistentIndex(): { index: number; term: number } {
    return { index: this.consistentIdx, term: this.consistentTerm };
  }

  /**
   * Sets the raft index (and term) of the entry being applied; the next commit stores it
   * with the writes, so replay after a crash can skip entries already applied. Call it in
   * the same tick as the writes of that entry.
   */
  setConsistentIndex(index: number, term: number): void {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError(`bad consistent index ${index}`);
    this.consistentIdx = index;
    this.consistentTerm = term;
  }

  // ---- transactions ----

  /** A read view at the current revision. */
  read(): TxnRead {
    this.assertOpen();
    const rev = this.currentRev;
    return {
      rev: () => rev,
      firstRev: () => this.compactMainRev,
      range: (key, rangeEnd, opts) => this.rangeKeys(key, rangeEnd, rev, opts),
    };
  }

  /** Opens the write transaction (one at a time; end it in the same tick). */
  write(): TxnWrite {
    this.assertOpen();
    if (this.writing) throw new Error('mvcc: a write txn is already open');
    this.writing = true;
    this.backend.lock();
    return new StoreTxnWrite(this, this.currentRev);
  }

  range(key: Uint8Array, rangeEnd?: Uint8Array, opts?: RangeOptions): RangeResult {
    this.assertOpen();
    return this.rangeKeys(key, rangeEnd, this.currentRev, opts);
  }

  put(key: Uint8Array, value: Uint8Array, lease = 0n): number {
    const tw = this.write();
    try {
      return tw.put(key, value, lease);
    } finally {
      tw.end();
    }
  }

  deleteRange(key: Uint8Array, rangeEnd?: Uint8Array): { deleted: number; rev: number } {
    const tw = this.write();
    try {
      return tw.deleteRange(key, rangeEnd);
    } finally {
      tw.end();
    }
  }

  /** @internal the read path shared by read views and write txns. */
  rangeKeys(
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
    curRev: number,
    opts?: RangeOptions,
  ): RangeResult {
    let rev = opts?.rev ?? 0;
    if (rev > curRev) throw new FutureRevError();
    if (rev <= 0) rev = curRev;
    if (rev < this.compactMainRev) throw new CompactedError();
    const end = rangeEndToIndex(rangeEnd);
    if (end === undefined && opts?.count !== true) {
      // One key, found by its bytes. Most reads are at or after the key's last change: the
      // table keeps the newest revision beside each key, and the stored KeyValue holds the
      // key, so the candidate with the key's hash and length is read without comparing its
      // bytes first (a cache miss spared); it is the key when the KeyValue says so.
      const c = this.index.lookupCandidate(key);
      if (c < 0) return { kvs: [], rev: curRev, count: 0 };
      const main = this.index.lastMain(c);
      if (main !== 0 && main <= rev) {
        const kv = this.readRevision(main, this.index.lastSub(c));
        if (bytesEqual(kv.key, key)) return { kvs: [kv], rev: curRev, count: 1 };
      }
      // Another key with the same hash and length, a deleted key, or a read in the past.
      const o = this.index.lookup(key);
      const g = o < 0 ? undefined : this.index.getAt(o, rev);
      if (g === undefined) return { kvs: [], rev: curRev, count: 0 };
      return { kvs: [this.readRevision(g.modMain, g.modSub)], rev: curRev, count: 1 };
    }
    const k = toBinary(key);
    if (opts?.count === true) {
      return { kvs: [], rev: curRev, count: this.index.countRevisions(k, end, rev) };
    }
    const { hits, total } = this.index.revisions(k, end, rev, opts?.limit ?? 0);
    const kvs = new Array<KeyValue>(hits.length);
    for (let i = 0; i < hits.length; i++)
      kvs[i] = this.readRevision(hits[i]!.modMain, hits[i]!.modSub);
    return { kvs, rev: curRev, count: total };
  }

  /** The stored KeyValue of a revision the index points at. */
  protected readRevision(main: number, sub: number): KeyValue {
    const raw = this.backend.getTransient(KEY_BUCKET, writeRevBytes(main, sub, this.scratch));
    if (raw === undefined) {
      // etcd treats this as fatal: the index points at a revision the backend lacks.
      throw new Error(`mvcc: range failed to find revision pair ${main}.${sub}`);
    }
    return decodeKeyValue(raw, true);
  }

  /** @internal called by StoreTxnWrite */
  txnPut(
    beginRev: number,
    changes: Change[],
    key: Uint8Array,
    value: Uint8Array,
    lease: bigint,
  ): void {
    // Refuse before changing anything: etcd panics here, we leave the store untouched.
    if (lease !== 0n && this.lessor === undefined)
      throw new Error('mvcc: no lessor to attach lease');
    const rev = beginRev + 1;
    const o = this.index.lookup(key);
    let created = rev;
    let ver = 0;
    let oldLease = 0n;
    // A put is newer than every revision the key has, so it continues the current
    // generation when the key is live.
    if (o >= 0 && this.index.lastMain(o) !== 0) {
      created = this.index.createdMain(o);
      ver = this.index.ver(o);
      if (this.lessor !== undefined) oldLease = this.lessor.getLease(key);
    }
    // A new key needs room in the index: refused before anything is written.
    if (o < 0) this.index.roomForKey(key.length);
    const sub = changes.length;
    // The encoded bytes are the change: events decode views of them only when needed.
    const enc = encodeKeyValueParts(key, value, created, rev, ver + 1, lease);
    // The backend copies key and value into its batch arenas: the scratch is reusable.
    this.backend.seqPut(KEY_BUCKET, writeRevBytes(rev, sub, this.revScratch), enc);
    if (o < 0) {
      this.index.insertNew(key, 0, key.length, rev, sub, rev, 1);
    } else {
      this.index.putAt(o, rev, sub);
    }
    changes.push({ enc, rev, tombstone: false });
    if (oldLease !== 0n) this.lessor!.detach(oldLease, key);
    if (lease !== 0n) this.lessor!.attach(lease, key);
  }

  /** @internal called by StoreTxnWrite */
  txnDeleteRange(
    beginRev: number,
    changes: Change[],
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
  ): number {
    const rrev = changes.length > 0 ? beginRev + 1 : beginRev;
    const { hits } = this.index.revisions(toBinary(key), rangeEndToIndex(rangeEnd), rrev);
    const rev = beginRev + 1;
    for (const hit of hits) {
      const keyBytes = fromBinary(hit.key);
      const sub = changes.length;
      // A tombstone stores only the key.
      const enc = encodeKeyValueParts(keyBytes, EMPTY, 0, 0, 0, 0n);
      this.backend.seqPut(KEY_BUCKET, revToBytes(rev, sub, true), enc);
      this.index.tombstone(hit.key, rev, sub);
      changes.push({ enc, rev, tombstone: true });
      if (this.lessor !== undefined) {
        const leaseId = this.lessor.getLease(keyBytes);
        if (leaseId !== 0n) this.lessor.detach(leaseId, keyBytes);
      }
    }
    return hits.length;
  }

  /** @internal called by StoreTxnWrite.end */
  txnEnd(txn: StoreTxnWrite, changes: Change[]): void {
    if (changes.length > 0) this.currentRev++;
    this.writing = false;
    this.backend.unlock();
    if (changes.length > 0) this.notify(this.currentRev, () => txn.changes());
  }

  /**
   * Called after each write txn that changed something, with the txn's changes (decoded
   * on demand); the watchable store hooks in here.
   */
  protected notify(_rev: number, _changes: () => readonly KeyValue[]): void {}

  // ---- compaction ----

  /**
   * Compacts the store at `rev`: reads below it fail from now on; the index drops the
   * revisions no read at or after rev needs, and the key bucket loses them in the
   * background in batches. The returned promise settles when the removal is done.
   */
  compact(rev: number): Promise<void> {
    this.assertOpen();
    if (rev <= this.compactMainRev) throw new CompactedError();
    if (rev > this.currentRev) throw new FutureRevError();
    this.scheduleCompact(rev);
    const job = this.compactionChain.then(() => this.runCompaction(rev));
    this.compactionChain = job.catch(() => {});
    return job;
  }

  private scheduleCompact(rev: number): void {
    this.compactMainRev = rev;
    this.backend.lock();
    this.backend.put(META_BUCKET, SCHEDULED_COMPACT_KEY, revToBytes(rev, 0));
    this.backend.unlock();
    // The schedule must be durable before any revision goes: a restart resumes it.
    this.backend.forceCommit();
  }

  private async runCompaction(rev: number): Promise<void> {
    const generation = this.generation;
    if (this.closed || this.backend.isClosed) return;
    const started = performance.now();
    const keep = this.index.compact(rev);
    const end = revToBytes(rev + 1, 0);
    let last: Buffer = revToBytes(0, 0);
    let removed = 0;
    for (;;) {
      // Stop quietly when the store closed, a snapshot replaced the backend, or the backend
      // was closed under us: the schedule in meta makes the next open resume.
      if (this.closed || generation !== this.generation || this.backend.isClosed) return;
      this.backend.lock();
      let lastMain = 0;
      let lastSub = 0;
      let seen = 0;
      const doomed: Buffer[] = [];
      this.backend.forEach(
        KEY_BUCKET,
        (k) => {
          const r = bytesToRev(k);
          lastMain = r.main;
          lastSub = r.sub;
          if (!keep.has(revSetKey(r.main, r.sub))) doomed.push(k);
          seen++;
          return seen < this.compactionBatchLimit;
        },
        last,
        end,
      );
      for (const k of doomed) this.backend.delete(KEY_BUCKET, k);
      removed += doomed.length;
      if (seen < this.compactionBatchLimit) {
        this.backend.put(META_BUCKET, FINISHED_COMPACT_KEY, revToBytes(rev, 0));
        this.backend.unlock();
        this.logger.info(
          {
            'compact-revision': rev,
            'deleted-revisions': removed,
            took: `${Math.round(performance.now() - started)}ms`,
          },
          'finished scheduled compaction',
        );
        return;
      }
      this.backend.unlock();
      this.backend.forceCommit();
      last = revToBytes(lastMain, lastSub + 1);
      await new Promise((r) => setTimeout(r, this.compactionSleepInterval));
    }
  }

  /** Resolves once every compaction scheduled so far has finished. */
  compactionIdle(): Promise<void> {
    return this.compactionChain;
  }

  // ---- hashing ----

  /**
   * CRC-32C over the key bucket's revisions up to `rev` (0: current), skipping revisions
   * below the compact revision that compaction will remove, plus the compact revision
   * (etcd's HashByRev, what HashKV answers and the corruption check compares).
   */
  hashByRev(rev = 0): HashKVResult {
    this.assertOpen();
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new CompactedError();
    if (rev > 0 && rev > currentRev) throw new FutureRevError();
    const at = rev === 0 ? currentRev : rev;
    const keep = this.index.keep(at);
    let crc = crc32c(Buffer.from(KEY_BUCKET));
    const lowerMain = compactRev + 1;
    this.backend.forEach(
      KEY_BUCKET,
      (k, v) => {
        const r = bytesToRev(k);
        if (r.main < lowerMain && keep.size > 0 && !keep.has(revSetKey(r.main, r.sub))) return true;
        crc = crc32c(v, crc32c(k, crc));
        return true;
      },
      undefined,
      revToBytes(at + 1, 0),
    );
    return { hash: crc >>> 0, rev: currentRev, compactRev };
  }

  /** The backend hash without the apply position (etcd's store.Hash). */
  /**
   * hashByRev without holding the event loop: the key bucket is read from one read
   * transaction (the same data throughout, as etcd's read tx) and the loop gets a turn every
   * HASH_YIELD_ENTRIES entries, so a large store's HashKV does not starve raft's ticks,
   * lease expiry or other clients.
   */
  async hashByRevAsync(rev = 0): Promise<HashKVResult> {
    this.assertOpen();
    const compactRev = this.compactMainRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new CompactedError();
    if (rev > 0 && rev > currentRev) throw new FutureRevError();
    const at = rev === 0 ? currentRev : rev;
    const keep = this.index.keep(at);
    let crc = crc32c(Buffer.from(KEY_BUCKET));
    const lowerMain = compactRev + 1;
    const end = revToBytes(at + 1, 0);
    this.backend.forceCommit();
    const snap = this.backend.snapshot();
    try {
      let n = 0;
      for (const [k, v] of snap.entries(KEY_BUCKET)) {
        if (Buffer.compare(k, end) >= 0) break;
        const r = bytesToRev(k);
        if (!(r.main < lowerMain && keep.size > 0 && !keep.has(revSetKey(r.main, r.sub))))
          crc = crc32c(v, crc32c(k, crc));
        if (++n % HASH_YIELD_ENTRIES === 0) await new Promise((res) => setImmediate(res));
      }
    } finally {
      snap.close();
    }
    return { hash: crc >>> 0, rev: currentRev, compactRev };
  }

  hash(): { hash: number; rev: number } {
    this.assertOpen();
    return { hash: this.backend.hash(), rev: this.currentRev };
  }

  // ---- restore ----

  private restore(): void {
    const started = performance.now();
    const be = this.backend;
    const finished = be.get(META_BUCKET, FINISHED_COMPACT_KEY);
    if (finished !== undefined) this.compactMainRev = bytesToRev(finished).main;
    const scheduledRaw = be.get(META_BUCKET, SCHEDULED_COMPACT_KEY);
    let scheduled = scheduledRaw === undefined ? 0 : bytesToRev(scheduledRaw).main;
    const ci = be.get(META_BUCKET, CONSISTENT_INDEX_KEY);
    if (ci !== undefined) this.consistentIdx = this.savedIdx = readUint64BE(ci, 0);
    const term = be.get(META_BUCKET, TERM_KEY);
    if (term !== undefined) this.consistentTerm = this.savedTerm = readUint64BE(term, 0);

    // Leased keys by ordinal (a rebuild removes no key: ordinals stay).
    const keyToLease = new Map<number, bigint>();
    let revisions = 0;
    const orderJob = this.startRestoreOrder();
    this.index.beginBulkLoad();
    // Each key has at least one entry: the entries bound the keys.
    this.index.reserve(be.committedCount(KEY_BUCKET));
    let from: Buffer = revToBytes(0, 0);
    for (;;) {
      let n = 0;
      let lastKey: Buffer | undefined;
      be.forEach(
        KEY_BUCKET,
        (k, v) => {
          lastKey = k;
          n++;
          this.restoreEntry(k, v, keyToLease);
          return n < RESTORE_CHUNK;
        },
        from,
      );
      revisions += n;
      // Full runs of new keys go to the ordering thread while the walk goes on.
      if (orderJob !== undefined) this.handKeys(orderJob, false);
      if (n < RESTORE_CHUNK || lastKey === undefined) break;
      const r = bytesToRev(lastKey);
      from = revToBytes(r.main, r.sub + 1);
    }
    let ordered = false;
    if (orderJob === undefined) {
      this.index.endBulkLoad();
    } else {
      this.handKeys(orderJob, true);
      // A sort that throws (the thread failed) or returns a wrong order leaves the index
      // to sort on this thread.
      ordered = this.index.endBulkLoad(() => this.awaitOrder(orderJob));
    }
    // Revisions between the compact revision and the newest one may all be gone.
    if (this.currentRev < this.compactMainRev) this.currentRev = this.compactMainRev;
    if (scheduled <= this.compactMainRev) scheduled = 0;
    if (this.lessor !== undefined) {
      for (const [o, lease] of keyToLease) {
        const key = this.index.keyOf(o);
        try {
          this.lessor.attach(lease, fromBinary(key));
        } catch (err) {
          // As etcd: a key whose lease is gone (say, revoked after the last backend commit
          // that held the key) is still restored; the lessor's own recovery decides its fate.
          this.logger.warn(
            { err, 'lease-id': lease.toString(16), key: fromBinary(key).toString() },
            'failed to attach a lease',
          );
        }
      }
    } else if (keyToLease.size > 0) {
      throw new Error('mvcc: no lessor to attach lease');
    }
    const ms = performance.now() - started;
    this.restoreStats = { keys: this.index.size, revisions, ms, orderedByThread: ordered };
    this.logger.info(
      {
        keys: this.index.size,
        revisions,
        took: `${Math.round(ms)}ms`,
        'keys-per-second': Math.round((this.index.size / Math.max(ms, 1)) * 1000),
        'ordered-by-thread': ordered,
        'current-revision': this.currentRev,
      },
      'restored mvcc index',
    );
    if (scheduled !== 0) {
      this.logger.info({ 'scheduled-compact-revision': scheduled }, 'resume scheduled compaction');
      this.compactMainRev = scheduled;
      const job = this.compactionChain.then(() => this.runCompaction(scheduled));
      this.compactionChain = job.catch((err) => {
        this.logger.error({ err }, 'failed to resume scheduled compaction');
      });
    }
  }

  /** Starts the ordering thread for a large backend; undefined when not worth it or failing. */
  private startRestoreOrder(): RestoreOrderThread | undefined {
    const be = this.backend;
    // The thread sorts on another core: with one core it would only add work.
    if (be.size() < this.parallelRestoreBytes || be.pending > 0 || availableParallelism() < 2) {
      return undefined;
    }
    try {
      // Run from TypeScript sources (tests, benchmarks), the thread needs the same loader.
      const fromSource = import.meta.url.endsWith('.ts');
      const module = new URL(`./restore_order.${fromSource ? 'ts' : 'js'}`, import.meta.url);
      const { port1, port2 } = new MessageChannel();
      const done = new SharedArrayBuffer(4);
      // A loader that raises the flag however the thread ends (a module that fails to load,
      // an uncaught error, an exit), so the rebuild never waits for an answer not coming.
      const loader = `
        const { workerData } = require('node:worker_threads');
        const { port, done } = workerData.restoreOrder;
        const flag = new Int32Array(done);
        const fail = (err) => {
          if (Atomics.load(flag, 0) !== 0) return;
          try { port.postMessage({ error: String(err) }); } catch {}
          Atomics.store(flag, 0, 1);
          Atomics.notify(flag, 0);
        };
        process.on('uncaughtException', fail);
        process.on('exit', () => fail('exited'));
        (workerData.fromSource
          ? import('tsx/esm/api').then((tsx) => { tsx.register(); })
          : Promise.resolve()
        ).then(() => import(workerData.module)).catch(fail);`;
      const worker = new Worker(loader, {
        eval: true,
        workerData: {
          fromSource,
          module: module.href,
          restoreOrder: { port: port2, done },
        },
        transferList: [port2],
      });
      worker.unref();
      return { worker, port: port1, done: new Int32Array(done), handed: 0 };
    } catch (err) {
      this.logger.warn({ err }, 'could not start the index ordering thread');
      return undefined;
    }
  }

  /**
   * Hands the ordering thread the new keys not handed yet, in runs of RUN (at the end of
   * the walk, `last`: also the rest, and the number of keys in all).
   */
  private handKeys(job: RestoreOrderThread, last: boolean): void {
    if (job.handed < 0) return;
    const size = this.index.size;
    try {
      while (size - job.handed >= RUN || (last && size > job.handed)) {
        const to = Math.min(size, job.handed + RUN);
        const m: RestoreOrderMessage = {
          first: job.handed,
          ...this.index.sharedKeys(job.handed, to),
        };
        job.port.postMessage(m);
        job.handed = to;
      }
      if (last) job.port.postMessage({ keys: size } satisfies RestoreOrderMessage);
    } catch (err) {
      this.logger.warn({ err }, 'could not hand keys to the index ordering thread');
      job.handed = -1;
    }
  }

  /**
   * The ordering thread's answer: every key's ordinal in key order (see
   * TreeIndex.endBulkLoad). Throws (and the index sorts here) when it failed or gave no
   * answer within RESTORE_ORDER_WAIT_MS (merging its runs takes a fraction of a second).
   */
  private awaitOrder(job: RestoreOrderThread): Int32Array {
    try {
      if (job.handed < 0) throw new Error('mvcc: the ordering thread has no keys');
      const deadline = Date.now() + RESTORE_ORDER_WAIT_MS;
      while (Atomics.load(job.done, 0) === 0 && Date.now() < deadline) {
        Atomics.wait(job.done, 0, 0, 1000);
      }
      const reply = receiveMessageOnPort(job.port)?.message as RestoreOrderReply | undefined;
      if (reply === undefined || !('order' in reply)) {
        const error = reply !== undefined && 'error' in reply ? reply.error : 'no answer';
        this.logger.warn({ error }, 'index ordering thread failed; sorting on the main thread');
        throw new Error(`mvcc: ordering thread: ${error}`);
      }
      return reply.order;
    } finally {
      job.port.close();
      void job.worker.terminate();
    }
  }

  private restoreEntry(k: Buffer, v: Uint8Array, keyToLease: Map<number, bigint>): void {
    const r = bytesToRev(k);
    const tomb = isTombstone(k);
    const f = decodeKeyValueFields(v);
    this.currentRev = r.main;
    // Found by the key's bytes where they lie in the value: a key seen before never
    // becomes a string again.
    let o = this.index.lookup(v, f.keyStart, f.keyEnd);
    if (o >= 0) {
      if (!tomb) this.index.putAt(o, r.main, r.sub);
      else if (this.index.lastMain(o) !== 0) this.index.tombstoneAt(o, r.main, r.sub);
    } else if (!tomb) {
      // A new key: its one revision goes in the table only (the tree's strings are made
      // at the end, in key order).
      o = this.index.insertNew(v, f.keyStart, f.keyEnd, r.main, r.sub, f.createRevision, f.version);
    } else {
      return;
    }
    if (!tomb && f.lease !== 0n) keyToLease.set(o, f.lease);
    else if (keyToLease.size > 0) keyToLease.delete(o);
  }

  // ---- lifecycle ----

  /** Stops background compaction (it resumes on the next open) and detaches from the backend. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.compactionChain;
    this.removeHook();
    // Store the final consistent index with whatever is still buffered.
    if (!this.backend.isClosed) {
      if (this.consistentIdx !== this.savedIdx || this.consistentTerm !== this.savedTerm) {
        this.backend.put(META_BUCKET, CONSISTENT_INDEX_KEY, uint64(this.consistentIdx));
        this.backend.put(META_BUCKET, TERM_KEY, uint64(this.consistentTerm));
      }
      this.backend.forceCommit();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The lessor handed in at open, if any. */
  get leaseLinker(): LeaseLinker | undefined {
    return this.lessor;
  }

  protected assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

function uint64(v: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeUint64BE(b, 0, v);
  return b;
}

/** One change of a write txn: the encoded KeyValue as stored, and its revision. */
interface Change {
  enc: Buffer;
  rev: number;
  tombstone: boolean;
}

const EMPTY = new Uint8Array(0);

class StoreTxnWrite implements TxnWrite {
  private readonly changeList: Change[] = [];
  private decoded: KeyValue[] | undefined;
  private ended = false;

  constructor(
    private readonly store: KVStore,
    private readonly beginRev: number,
  ) {}

  rev(): number {
    return this.beginRev;
  }

  firstRev(): number {
    return this.store.compactRev();
  }

  range(key: Uint8Array, rangeEnd: Uint8Array | undefined, opts?: RangeOptions): RangeResult {
    this.assertActive();
    // Reads inside the txn see its own earlier writes.
    const rev = this.changeList.length > 0 ? this.beginRev + 1 : this.beginRev;
    return this.store.rangeKeys(key, rangeEnd, rev, opts);
  }

  put(key: Uint8Array, value: Uint8Array, lease = 0n): number {
    this.assertActive();
    this.decoded = undefined;
    this.store.txnPut(this.beginRev, this.changeList, key, value, lease);
    return this.beginRev + 1;
  }

  deleteRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): { deleted: number; rev: number } {
    this.assertActive();
    this.decoded = undefined;
    const n = this.store.txnDeleteRange(this.beginRev, this.changeList, key, rangeEnd);
    if (n !== 0 || this.changeList.length > 0) return { deleted: n, rev: this.beginRev + 1 };
    return { deleted: 0, rev: this.beginRev };
  }

  hasChanges(): boolean {
    return this.changeList.length > 0;
  }

  changes(): readonly KeyValue[] {
    if (this.decoded === undefined) {
      this.decoded = this.changeList.map((c) => {
        // Views into the change's own bytes, which nothing mutates.
        const kv = decodeKeyValue(c.enc, false);
        if (c.tombstone) kv.modRevision = c.rev; // events carry the delete's revision
        return kv;
      });
    }
    return this.decoded;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.store.txnEnd(this, this.changeList);
  }

  private assertActive(): void {
    if (this.ended) throw new Error('mvcc: txn already ended');
  }
}

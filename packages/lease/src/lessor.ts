import { type etcdserverpb, leasepb } from '@etcd-ts/api';
import { Bucket } from '@etcd-ts/backend';
import { BoundedChannel } from './channel.js';
import { type Clock, systemClock } from './clock.js';
import {
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseTTLTooLargeError,
  NotPrimaryError,
} from './errors.js';
import { FOREVER, keyToString, Lease, type LeaseItem } from './lease.js';
import { LeaseQueue, queueItem } from './lease_queue.js';
import { encodeLeaseRecordInto, MAX_LEASE_RECORD_BYTES } from './record.js';

/** The id that means "no lease" (etcd's NoLease). */
export const NO_LEASE = 0n;
/** The largest TTL a lease may be granted, in seconds (etcd's MaxLeaseTTL). */
export const MAX_LEASE_TTL = 9_000_000_000;
/** Leases the primary hands out for revocation per second (etcd's leaseRevokeRate). */
export const DEFAULT_LEASE_REVOKE_RATE = 1000;
/** Rate limit on checkpoint batches, as etcd's leaseCheckpointRate. */
export const DEFAULT_LEASE_CHECKPOINT_RATE = 1000;
/** How long after its last checkpoint (or refresh) a lease is checkpointed again. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60 * 1000;
/** Checkpoints per consensus entry (etcd's maxLeaseCheckpointBatchSize). */
export const MAX_LEASE_CHECKPOINT_BATCH_SIZE = 1000;
/** An expired lease handed out but not yet revoked is handed out again after this long. */
export const DEFAULT_EXPIRED_LEASES_RETRY_INTERVAL_MS = 3000;
/** How often etcd's lessor loop runs; callers drive `tick()` at this period. */
export const LESSOR_TICK_INTERVAL_MS = 500;
/** Batches of expired leases waiting for the server (etcd's expiredC buffer). */
export const EXPIRED_LEASES_CHANNEL_CAPACITY = 16;
/**
 * TTL etcd reports for a lease that is not counting down (a follower's lease):
 * int64(math.MaxInt64 nanoseconds in seconds).
 */
export const FOREVER_TTL_SECONDS = 9_223_372_036;

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/**
 * The minimum TTL etcd's server grants: one and a half election timeouts, rounded up to
 * whole seconds, so a lease survives a leader election (etcd: minTTL = (3*electionTicks/2)
 * heartbeats, integer division on the ticks).
 */
export function minLeaseTTL(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** A write transaction that can only delete (etcd's TxnDelete); mvcc's TxnWrite is one. */
export interface TxnDelete {
  deleteRange(key: Uint8Array, end: Uint8Array | undefined): unknown;
  end(): void;
}

/** Opens a delete transaction on the key-value store (etcd's RangeDeleter). */
export type RangeDeleter = () => TxnDelete;

/**
 * Puts remaining TTLs through consensus (etcd's Checkpointer): the server proposes a
 * LeaseCheckpoint request and resolves once it is applied.
 */
export type Checkpointer = (req: etcdserverpb.LeaseCheckpointRequest) => Promise<void>;

/** The slice of the backend the lessor uses; `Backend` from @etcd-ts/backend is one. */
export interface LessorBackend {
  createBucket(bucket: string): void;
  /** Must copy `key` and `value` (as Backend does): the lessor reuses its buffers. */
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: string, key: Uint8Array): void;
  forEach(bucket: string, fn: (key: Buffer, value: Uint8Array) => boolean | undefined): void;
  forceCommit(): void;
}

/** The slice of pino's Logger the lessor uses. */
export interface LessorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noopLogger: LessorLogger = { info() {}, warn() {}, error() {} };

export interface LessorConfig {
  backend: LessorBackend;
  clock?: Clock;
  /** Grants below this many seconds are raised to it (see `minLeaseTTL`). Default 0. */
  minLeaseTTL?: number;
  /** Default 5 minutes. */
  checkpointIntervalMs?: number;
  /** Default 3 s. */
  expiredLeasesRetryIntervalMs?: number;
  /** Default 1000 per second. */
  leaseRevokeRate?: number;
  /** Default 1000. */
  leaseCheckpointRate?: number;
  /**
   * Persist checkpointed remaining TTLs in the lease bucket, so they survive a restart
   * (etcd 3.6's behaviour, 3.5's --experimental-enable-lease-checkpoint-persist). Default true.
   */
  checkpointPersist?: boolean;
  rangeDeleter?: RangeDeleter;
  checkpointer?: Checkpointer;
  logger?: LessorLogger;
}

/** What `timeToLive` answers (etcd's LeaseTimeToLiveResponse without its header). */
export interface LeaseTimeToLive {
  ID: bigint;
  /** Whole seconds left (truncated, as etcd does). */
  TTL: number;
  grantedTTL: number;
  keys: Uint8Array[];
}

/** Encodes a lease id as the lease bucket's key: 8 bytes, big-endian, two's complement. */
export function leaseIdToBytes(id: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, id));
  return b;
}

export function bytesToLeaseId(b: Uint8Array): bigint {
  if (b.byteLength !== 8) throw new Error(`lease: lease ID must be 8-byte, got ${b.byteLength}`);
  return Buffer.from(b.buffer, b.byteOffset, 8).readBigInt64BE();
}

function assertLeaseId(id: bigint): void {
  if (typeof id !== 'bigint' || id < MIN_INT64 || id > MAX_INT64) {
    throw new RangeError(`lease: id ${String(id)} is not an int64`);
  }
}

/** How a renew that waited on an expired lease ends. */
type RenewOutcome = 'revoked' | 'demoted';

/**
 * etcd's lessor. Every member keeps every lease (grants, revokes and checkpoints arrive
 * through consensus); only the primary — the raft leader's lessor — counts them down,
 * renews them and reports expiries, which the server turns into revoke proposals. Nothing
 * here reads the wall clock or starts a timer: time comes from the injected Clock and the
 * caller drives `tick()` (every LESSOR_TICK_INTERVAL_MS, or use `run()`).
 */
export class Lessor {
  private backend: LessorBackend;
  private readonly clock: Clock;
  private readonly logger: LessorLogger;
  private readonly minTTL: number;
  private readonly checkpointIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly revokeRate: number;
  private readonly checkpointRate: number;
  private readonly checkpointPersist: boolean;
  private rangeDeleter: RangeDeleter | undefined;
  private checkpointer: Checkpointer | undefined;

  private leaseMap = new Map<bigint, Lease>();
  private itemMap = new Map<string, bigint>();
  private readonly expiredNotifier = new LeaseQueue<Lease>();
  private readonly checkpointQueue = new LeaseQueue<Lease>();
  private readonly expiredC = new BoundedChannel<Lease[]>(EXPIRED_LEASES_CHANNEL_CAPACITY);
  private primary = false;
  /**
   * Renews waiting on an expired lease, by lease: each ends when its lease is revoked or
   * this lessor is demoted or stopped. Bounded by the renews in flight.
   */
  private readonly renewWaiters = new Map<Lease, Array<(o: RenewOutcome) => void>>();
  private stopped = false;
  private revokeTokens: number;
  private lastRefill: number;
  private checkpointing = false;
  /** Reused for every record written: the backend copies what it is given. */
  private readonly keyScratch = Buffer.alloc(8);
  private readonly valueScratch = Buffer.alloc(MAX_LEASE_RECORD_BYTES);

  constructor(config: LessorConfig) {
    this.backend = config.backend;
    this.clock = config.clock ?? systemClock;
    this.logger = config.logger ?? noopLogger;
    this.minTTL = config.minLeaseTTL ?? 0;
    this.checkpointIntervalMs = config.checkpointIntervalMs || DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.retryIntervalMs =
      config.expiredLeasesRetryIntervalMs || DEFAULT_EXPIRED_LEASES_RETRY_INTERVAL_MS;
    this.revokeRate = config.leaseRevokeRate || DEFAULT_LEASE_REVOKE_RATE;
    this.checkpointRate = config.leaseCheckpointRate || DEFAULT_LEASE_CHECKPOINT_RATE;
    this.checkpointPersist = config.checkpointPersist ?? true;
    this.rangeDeleter = config.rangeDeleter;
    this.checkpointer = config.checkpointer;
    if (!(this.minTTL >= 0)) throw new RangeError('lessor: minLeaseTTL must be >= 0');
    if (!(this.revokeRate >= 1)) throw new RangeError('lessor: leaseRevokeRate must be >= 1');
    this.revokeTokens = this.revokeBurst();
    this.lastRefill = this.clock.now();
    this.initAndRecover();
  }

  setRangeDeleter(rd: RangeDeleter | undefined): void {
    this.rangeDeleter = rd;
  }

  setCheckpointer(cp: Checkpointer | undefined): void {
    this.checkpointer = cp;
  }

  /** Whether this lessor counts leases down (its member is the raft leader). */
  get isPrimary(): boolean {
    return this.primary;
  }

  get size(): number {
    return this.leaseMap.size;
  }

  /**
   * Grants lease `id` for `ttl` seconds (raised to the minimum TTL). The id is the
   * caller's: etcd's server picks one before proposing when the client left it 0.
   */
  grant(id: bigint, ttl: number): Lease {
    assertLeaseId(id);
    if (id === NO_LEASE) throw new LeaseNotFoundError();
    if (ttl > MAX_LEASE_TTL) throw new LeaseTTLTooLargeError();
    if (!Number.isSafeInteger(ttl)) throw new RangeError(`lessor: TTL ${ttl} is not an integer`);
    if (this.leaseMap.has(id)) throw new LeaseExistsError();
    const l = new Lease(id, Math.max(ttl, this.minTTL), 0, this.clock);
    if (this.isPrimary) l._refresh(0);
    else l._forever();
    this.leaseMap.set(id, l);
    this.persist(l);
    if (this.isPrimary) {
      this.expiredNotifier.registerOrUpdate(l._expiryItem, l._expiry);
      this.scheduleCheckpointIfNeeded(l);
    }
    return l;
  }

  /**
   * Revokes lease `id`: deletes its keys through one delete transaction and removes the
   * lease in that same transaction, so a crash cannot keep one without the other.
   */
  revoke(id: bigint): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    const rd = this.rangeDeleter;
    if (rd === undefined && l.keyCount > 0) {
      throw new Error('lessor: cannot revoke a lease with keys before a range deleter is set');
    }
    const txn = rd?.();
    try {
      // Same order on every member, or their backend hashes would differ.
      for (const key of l._sortedItems()) txn!.deleteRange(Buffer.from(key, 'latin1'), undefined);
      this.leaseMap.delete(id);
      // Keys the deleter did not detach (a store that does not report deletes back).
      if (l._items !== undefined) {
        for (const key of l._items) if (this.itemMap.get(key) === id) this.itemMap.delete(key);
        l._items.clear();
      }
      this.expiredNotifier.remove(l._expiryItem);
      if (l._checkpointItem !== undefined) this.checkpointQueue.remove(l._checkpointItem);
      this.keyScratch.writeBigInt64BE(id);
      this.backend.delete(Bucket.lease, this.keyScratch);
    } finally {
      txn?.end();
    }
    this.wakeRenews(l, 'revoked');
  }

  /**
   * Applies a checkpoint from consensus: the lease's remaining TTL, which the next
   * promotion counts down from (0 clears it). Unknown leases are ignored, as in etcd.
   */
  checkpoint(id: bigint, remainingTTL: number): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) return;
    l._remainingTTL = remainingTTL;
    if (this.checkpointPersist) this.persist(l);
    if (this.isPrimary) this.scheduleCheckpointIfNeeded(l);
  }

  /**
   * Keep-alive: restarts the lease's countdown from its full TTL and returns the TTL. Only
   * the primary renews. A lease that has expired but whose revocation is still going
   * through consensus is not revived: the renew waits for the outcome.
   */
  async renew(id: bigint): Promise<number> {
    if (!this.primary || this.stopped) throw new NotPrimaryError();
    const l = this.leaseMap.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    const clearRemainingTTL = this.checkpointer !== undefined && l._remainingTTL > 0;
    if (l.expired()) {
      const outcome = await new Promise<RenewOutcome>((resolve) => {
        const waiting = this.renewWaiters.get(l);
        if (waiting === undefined) this.renewWaiters.set(l, [resolve]);
        else waiting.push(resolve);
      });
      if (outcome === 'revoked') throw new LeaseNotFoundError();
      throw new NotPrimaryError();
    }
    if (clearRemainingTTL) {
      // Only when a checkpoint is set: at most two consensus entries per lease per interval.
      await this.checkpointer!({ checkpoints: [{ ID: id, remainingTTL: 0 }] });
      if (this.leaseMap.get(id) !== l) throw new LeaseNotFoundError();
      if (!this.primary) throw new NotPrimaryError();
    }
    l._refresh(0);
    this.expiredNotifier.registerOrUpdate(l._expiryItem, l._expiry);
    return l._ttl;
  }

  lookup(id: bigint): Lease | undefined {
    return this.leaseMap.get(id);
  }

  /** Whether the lease exists (mvcc's LeaseLinker). */
  leaseExists(id: bigint): boolean {
    return this.leaseMap.has(id);
  }

  /** Every lease, soonest expiry first. */
  leases(): Lease[] {
    // Ties (every lease of a follower is FOREVER) fall back to the id, so the order is stable.
    return [...this.leaseMap.values()].sort((a, b) =>
      a._expiry !== b._expiry
        ? a._expiry < b._expiry
          ? -1
          : 1
        : a.id < b.id
          ? -1
          : a.id > b.id
            ? 1
            : 0,
    );
  }

  /** The lease's remaining time and, when `keys`, its keys (etcd's LeaseTimeToLive). */
  timeToLive(id: bigint, keys = false): LeaseTimeToLive {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    const remaining = l.remaining();
    return {
      ID: id,
      TTL: remaining === FOREVER ? FOREVER_TTL_SECONDS : Math.trunc(remaining / 1000),
      grantedTTL: l._ttl,
      keys: keys ? l.keys() : [],
    };
  }

  /**
   * Makes this lessor the primary: every lease counts down again from its remaining TTL
   * plus `extendMs` (the election timeout), so no lease expires because leadership moved.
   * When many leases would expire in the same second, later ones are spread out so the
   * revoke rate is not swamped (etcd's pile-up extension).
   */
  promote(extendMs: number): void {
    if (this.stopped) return;
    this.primary = true;
    for (const l of this.leaseMap.values()) {
      l._refresh(extendMs);
      this.expiredNotifier.registerOrUpdate(l._expiryItem, l._expiry);
      this.scheduleCheckpointIfNeeded(l);
    }
    if (this.leaseMap.size < this.revokeRate) return; // No pile-up is possible.

    const leases = this.leases();
    let baseWindow = leases[0]!.remaining();
    let nextWindow = baseWindow + 1000;
    let expires = 0;
    // Leave a quarter of the revoke rate for leases that expire on their own.
    const targetExpiresPerSecond = Math.floor((3 * this.revokeRate) / 4);
    for (const l of leases) {
      const remaining = l.remaining();
      if (remaining > nextWindow) {
        baseWindow = remaining;
        nextWindow = baseWindow + 1000;
        expires = 1;
        continue;
      }
      expires++;
      if (expires <= targetExpiresPerSecond) continue;
      // A lease already `remaining - baseWindow` past the window needs that much less delay.
      const delay = 1000 * (expires / targetExpiresPerSecond) - (remaining - baseWindow);
      nextWindow = baseWindow + delay;
      l._refresh(delay + extendMs);
      this.expiredNotifier.registerOrUpdate(l._expiryItem, l._expiry);
      this.scheduleCheckpointIfNeeded(l);
    }
  }

  /** Stops counting down: every lease's expiry becomes FOREVER; waiting renews give up. */
  demote(): void {
    for (const l of this.leaseMap.values()) l._forever();
    this.checkpointQueue.clear();
    this.expiredNotifier.clear();
    this.primary = false;
    this.wakeAllRenews('demoted');
  }

  /** Attaches `key` to lease `id` (mvcc calls this on put and when rebuilding its index). */
  attach(id: bigint, key: Uint8Array): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    const k = keyToString(key);
    l._addItem(k);
    this.itemMap.set(k, id);
  }

  attachItems(id: bigint, items: readonly LeaseItem[]): void {
    const l = this.leaseMap.get(id);
    if (l === undefined) throw new LeaseNotFoundError();
    for (const it of items) {
      const k = keyToString(it.key);
      l._addItem(k);
      this.itemMap.set(k, id);
    }
  }

  /**
   * Detaches `key` from lease `id` (mvcc calls this when the key is deleted or put under
   * another lease). Returns false, changing nothing, when the lease does not exist: etcd
   * logs that case rather than failing the write.
   */
  detach(id: bigint, key: Uint8Array): boolean {
    const l = this.leaseMap.get(id);
    if (l === undefined) return false;
    const k = keyToString(key);
    l._items?.delete(k);
    // Only this lease's claim on the key goes (etcd drops the key's entry whatever lease it
    // names; mvcc never detaches from a lease the key is not on, so this only adds safety).
    if (this.itemMap.get(k) === id) this.itemMap.delete(k);
    return true;
  }

  /** The lease `key` is attached to, or NO_LEASE. */
  getLease(key: Uint8Array): bigint {
    return this.itemMap.get(keyToString(key)) ?? NO_LEASE;
  }

  /**
   * Batches of expired leases for the server to revoke through consensus. The lessor does
   * not revoke them itself: a lease is gone only once its revoke entry is applied. One
   * consumer; the iterator ends at `stop()`.
   */
  expiredLeases(): BoundedChannel<Lease[]> {
    return this.expiredC;
  }

  /**
   * One pass of etcd's lessor loop: hands out expired leases (within the revoke rate) and
   * sends due checkpoints through the checkpointer. Call every LESSOR_TICK_INTERVAL_MS.
   */
  async tick(): Promise<void> {
    if (this.stopped) return;
    this.revokeExpiredLeases();
    await this.checkpointScheduledLeases();
  }

  /** Drives `tick()` from a real timer; returns a function that stops it. */
  run(intervalMs = LESSOR_TICK_INTERVAL_MS): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.tick()
        .catch((err: unknown) => this.logger.error({ err }, 'lessor tick failed'))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Reloads every lease from `backend` (after a snapshot replaced it): all leases start
   * over as not counting down, with no keys; the key-value store re-attaches its keys.
   */
  recover(backend: LessorBackend, rd?: RangeDeleter): void {
    this.wakeAllRenews('revoked');
    this.backend = backend;
    if (rd !== undefined) this.rangeDeleter = rd;
    this.leaseMap = new Map();
    this.itemMap = new Map();
    this.expiredNotifier.clear();
    this.checkpointQueue.clear();
    this.initAndRecover();
    if (this.isPrimary) this.promote(0);
  }

  /** Stops the lessor: no more expiries or checkpoints; the expired-leases stream ends. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.wakeAllRenews('demoted');
    this.expiredC.close();
  }

  // ---- internals ----

  private wakeRenews(l: Lease, outcome: RenewOutcome): void {
    const waiting = this.renewWaiters.get(l);
    if (waiting === undefined) return;
    this.renewWaiters.delete(l);
    for (const resolve of waiting) resolve(outcome);
  }

  private wakeAllRenews(outcome: RenewOutcome): void {
    const all = [...this.renewWaiters.values()];
    this.renewWaiters.clear();
    for (const waiting of all) for (const resolve of waiting) resolve(outcome);
  }

  private initAndRecover(): void {
    this.backend.createBucket(Bucket.lease);
    const records: leasepb.Lease[] = [];
    this.backend.forEach(Bucket.lease, (k, v) => {
      try {
        records.push(leasepb.Lease.decode(v));
      } catch (err) {
        throw new Error(
          `failed to unmarshal lease proto item; lease ID=${bytesToLeaseId(k).toString(16)}`,
          { cause: err },
        );
      }
      return true;
    });
    for (const r of records) {
      // Set forever until promoted; the TTL minimum may have changed since the grant.
      this.leaseMap.set(
        r.ID,
        new Lease(r.ID, Math.max(r.TTL, this.minTTL), r.RemainingTTL, this.clock),
      );
    }
    this.backend.forceCommit();
    if (records.length > 0) this.logger.info({ leases: records.length }, 'recovered leases');
  }

  private persist(l: Lease): void {
    const key = this.keyScratch;
    key.writeBigInt64BE(l.id);
    const n = encodeLeaseRecordInto(this.valueScratch, key, l._ttl, l._remainingTTL);
    // No lock: this runs synchronously inside the caller's apply, and the backend commits
    // only between tasks or at unlock, never in the middle of it.
    this.backend.put(Bucket.lease, key, this.valueScratch.subarray(0, n));
  }

  private revokeBurst(): number {
    // etcd's loop hands out at most rate/2 leases per 500 ms pass.
    return Math.max(1, Math.floor(this.revokeRate / 2));
  }

  private revokeExpiredLeases(): void {
    const now = this.clock.now();
    const burst = this.revokeBurst();
    this.revokeTokens = Math.min(
      burst,
      this.revokeTokens + ((now - this.lastRefill) * this.revokeRate) / 1000,
    );
    this.lastRefill = now;
    if (!this.isPrimary) return;
    // A full channel would drop the batch; leave the leases queued until there is room.
    if (this.expiredC.length >= this.expiredC.capacity) return;
    const limit = Math.floor(this.revokeTokens);
    if (limit < 1) return;
    const leases = this.findExpiredLeases(limit, now);
    if (leases.length === 0) return;
    this.revokeTokens -= leases.length;
    this.expiredC.trySend(leases);
  }

  private findExpiredLeases(limit: number, now: number): Lease[] {
    const found: Lease[] = [];
    // Bounded: every iteration pops an entry or moves it past `now`.
    // Revoked leases leave the queue at once, so every entry is a live lease.
    for (let n = this.expiredNotifier.size; n > 0 && found.length < limit; n--) {
      const item = this.expiredNotifier.peek()!;
      if (now < item.time) break;
      // Handed out now; hand it out again if it is still here after the retry interval.
      this.expiredNotifier.registerOrUpdate(item, now + this.retryIntervalMs);
      if (item.value._expiry <= now) found.push(item.value);
    }
    return found;
  }

  private scheduleCheckpointIfNeeded(l: Lease): void {
    if (this.checkpointer === undefined) return;
    if (l.remainingTTL * 1000 > this.checkpointIntervalMs) {
      l._checkpointItem ??= queueItem(l);
      this.checkpointQueue.registerOrUpdate(
        l._checkpointItem,
        this.clock.now() + this.checkpointIntervalMs,
      );
    }
  }

  private findDueScheduledCheckpoints(limit: number): etcdserverpb.LeaseCheckpoint[] {
    const now = this.clock.now();
    const cps: etcdserverpb.LeaseCheckpoint[] = [];
    while (cps.length < limit) {
      const item = this.checkpointQueue.peek();
      if (item === undefined || item.time > now) break;
      this.checkpointQueue.pop();
      const l = item.value;
      if (now >= l._expiry) continue;
      const remainingTTL = Math.ceil((l._expiry - now) / 1000);
      if (remainingTTL >= l._ttl) continue;
      cps.push({ ID: l.id, remainingTTL });
    }
    return cps;
  }

  private async checkpointScheduledLeases(): Promise<void> {
    if (this.checkpointing || this.checkpointer === undefined) return;
    this.checkpointing = true;
    try {
      const batches = Math.floor(this.checkpointRate / 2);
      for (let i = 0; i < batches; i++) {
        if (!this.isPrimary || this.stopped) return;
        const cps = this.findDueScheduledCheckpoints(MAX_LEASE_CHECKPOINT_BATCH_SIZE);
        if (cps.length > 0) {
          try {
            await this.checkpointer({ checkpoints: cps });
          } catch (err) {
            this.logger.warn({ err, checkpoints: cps.length }, 'failed to checkpoint leases');
            return;
          }
        }
        if (cps.length < MAX_LEASE_CHECKPOINT_BATCH_SIZE) return;
      }
    } finally {
      this.checkpointing = false;
    }
  }
}

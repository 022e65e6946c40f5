import type { Clock } from './clock.js';
import { type QueueItem, queueItem } from './lease_queue.js';

/** A key attached to a lease (etcd's LeaseItem): revoking the lease deletes it. */
export interface LeaseItem {
  key: Uint8Array;
}

/** What `Lease.remaining()` says of a lease that never expires (not on the primary). */
export const FOREVER = Number.POSITIVE_INFINITY;

/** Keys are held as latin1 strings: one char per byte, so string order is byte order. */
export function keyToString(key: Uint8Array): string {
  return (
    Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength)
  ).toString('latin1');
}

export function stringToKey(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/**
 * One lease. The lessor owns every field; callers read them. Expiry is in milliseconds
 * on the lessor's clock and is FOREVER unless this lessor is the primary: only the raft
 * leader counts time down, so a lease cannot expire because a follower's clock ran ahead.
 */
export class Lease {
  readonly id: bigint;
  /** @internal Granted TTL in seconds (raised to the lessor's minimum). */
  _ttl: number;
  /** @internal Checkpointed remaining TTL in seconds; 0 when unset (use the full TTL). */
  _remainingTTL: number;
  /** @internal */
  _expiry: number = FOREVER;
  /** @internal Attached keys as latin1 strings; allocated on first attach. */
  _items: Set<string> | undefined;
  /** @internal This lease's entry in the lessor's expiry queue. */
  readonly _expiryItem: QueueItem<Lease> = queueItem<Lease>(this);
  /** @internal This lease's entry in the lessor's checkpoint queue, once scheduled. */
  _checkpointItem: QueueItem<Lease> | undefined;
  private readonly clock: Clock;

  /** @internal */
  constructor(id: bigint, ttl: number, remainingTTL: number, clock: Clock) {
    this.id = id;
    this._ttl = ttl;
    this._remainingTTL = remainingTTL;
    this.clock = clock;
  }

  /** The granted TTL in seconds. */
  get ttl(): number {
    return this._ttl;
  }

  /**
   * Seconds the lease has left as of its last checkpoint, or its full TTL when it was never
   * checkpointed (etcd's Lease.RemainingTTL): what a promotion counts down from.
   */
  get remainingTTL(): number {
    return this._remainingTTL > 0 ? this._remainingTTL : this._ttl;
  }

  /** The raw checkpointed value as persisted (0: never checkpointed). */
  get checkpointedTTL(): number {
    return this._remainingTTL;
  }

  /** When the lease expires, in ms on the lessor's clock; FOREVER when not counting down. */
  get expiry(): number {
    return this._expiry;
  }

  /** Whether the expiry is FOREVER (etcd's Lease.Demoted). */
  get demoted(): boolean {
    return this._expiry === FOREVER;
  }

  /** Milliseconds until expiry (negative when past); FOREVER when not counting down. */
  remaining(): number {
    return this._expiry === FOREVER ? FOREVER : this._expiry - this.clock.now();
  }

  expired(): boolean {
    return this.remaining() <= 0;
  }

  /** Attached keys in byte order. */
  keys(): Buffer[] {
    return this._sortedItems().map(stringToKey);
  }

  get keyCount(): number {
    return this._items?.size ?? 0;
  }

  /** @internal Attached keys, sorted (latin1 strings sort as their bytes). */
  _sortedItems(): string[] {
    return this._items === undefined ? [] : [...this._items].sort();
  }

  /** @internal */
  _addItem(k: string): void {
    this._items ??= new Set();
    this._items.add(k);
  }

  /** @internal Sets the expiry to now + extend + the remaining TTL. */
  _refresh(extendMs: number): void {
    this._expiry = this.clock.now() + extendMs + this.remainingTTL * 1000;
  }

  /** @internal */
  _forever(): void {
    this._expiry = FOREVER;
  }
}

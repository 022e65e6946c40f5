// A bounded channel (Go's buffered chan with a non-blocking send), and the dial rate
// limiter of the stream readers.

/**
 * A FIFO of at most `capacity` items: `offer` never waits (it says whether the item was
 * taken), `take` waits for one. Closing wakes every taker with undefined; what was still
 * queued stays readable through `drain`.
 */
export class BoundedQueue<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private size = 0;
  private waiters: ((v: T | undefined) => void)[] = [];
  private closed = false;

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError('BoundedQueue: capacity must be positive');
    this.ring = new Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues v unless the queue is full or closed. */
  offer(v: T): boolean {
    if (this.closed) return false;
    const w = this.waiters.shift();
    if (w !== undefined) {
      w(v);
      return true;
    }
    if (this.size === this.capacity) return false;
    this.ring[(this.head + this.size) % this.capacity] = v;
    this.size++;
    return true;
  }

  /** The next item without waiting, or undefined. */
  poll(): T | undefined {
    if (this.size === 0) return undefined;
    const v = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return v;
  }

  /** The next item; undefined once the queue is closed and empty. */
  take(): Promise<T | undefined> {
    if (this.size > 0) return Promise.resolve(this.poll());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Removes and returns everything queued. */
  drain(): T[] {
    const out: T[] = [];
    for (let v = this.poll(); v !== undefined; v = this.poll()) out.push(v);
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w(undefined);
  }
}

/**
 * A token bucket of one token refilled every `intervalMs` (Go's rate.NewLimiter(every,
 * 1)): the first attempt goes at once, the next ones at most one per interval.
 */
export class RateLimiter {
  private nextAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number) {}

  /** Takes the token and returns how long to wait for it from `now`. */
  reserve(now: number): number {
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    return at - now;
  }
}

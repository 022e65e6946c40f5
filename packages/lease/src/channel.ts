/**
 * A bounded single-consumer queue with a non-blocking send: the lessor must never wait on
 * its consumer (etcd's expiredC is a buffered channel written with select/default), so a
 * full channel drops the batch; the leases in it are found again after the retry interval.
 */
export class BoundedChannel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private closed = false;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('channel capacity must be >= 1');
  }

  get length(): number {
    return this.items.length - this.head;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues `value`; false when the channel is full or closed. */
  trySend(value: T): boolean {
    if (this.closed) return false;
    if (this.waiter !== undefined) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value, done: false });
      return true;
    }
    if (this.length >= this.capacity) return false;
    this.items.push(value);
    return true;
  }

  /** The oldest queued value, without waiting. */
  tryReceive(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head]!;
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return v;
  }

  /** Waits for the next value; done once the channel is closed and drained. */
  next(): Promise<IteratorResult<T>> {
    if (this.length > 0) return Promise.resolve({ value: this.tryReceive()!, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== undefined) throw new Error('channel: only one receiver may wait');
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Ends the stream: queued values are still delivered, then the iterator finishes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

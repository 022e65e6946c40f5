/**
 * An entry of a LeaseQueue: a lease with a time — its expiry, or its next checkpoint
 * (etcd's LeaseWithTime). The lease keeps its entry, so moving or removing it needs no
 * lookup by id.
 */
export interface QueueItem<T> {
  readonly value: T;
  /** Milliseconds on the lessor's clock. */
  time: number;
  /** Position in the heap; -1 while not queued. */
  index: number;
}

export function queueItem<T>(value: T): QueueItem<T> {
  return { value, time: 0, index: -1 };
}

/**
 * A binary min-heap of entries by time (etcd's LeaseQueue / LeaseExpiredNotifier). Each
 * lease owns at most one entry per queue, so the queue is bounded by the number of leases
 * however often a lease is rescheduled.
 */
export class LeaseQueue<T> {
  private readonly heap: QueueItem<T>[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Queues `item` at `time`, or moves it there when already queued. */
  registerOrUpdate(item: QueueItem<T>, time: number): void {
    if (item.index >= 0) {
      if (this.heap[item.index] !== item) throw new Error('lease queue: item of another queue');
      const earlier = time < item.time;
      item.time = time;
      if (earlier) this.up(item.index);
      else this.down(item.index);
      return;
    }
    item.time = time;
    item.index = this.heap.length;
    this.heap.push(item);
    this.up(item.index);
  }

  /** The entry with the earliest time, left in place. */
  peek(): QueueItem<T> | undefined {
    return this.heap[0];
  }

  /** Removes and returns the entry with the earliest time. */
  pop(): QueueItem<T> | undefined {
    const top = this.heap[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  /** Takes `item` out; false when it was not queued. */
  remove(item: QueueItem<T>): boolean {
    if (item.index < 0) return false;
    if (this.heap[item.index] !== item) throw new Error('lease queue: item of another queue');
    this.removeAt(item.index);
    return true;
  }

  clear(): void {
    for (const item of this.heap) item.index = -1;
    this.heap.length = 0;
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    const last = heap.pop()!;
    item.index = -1;
    if (i === heap.length) return;
    heap[i] = last;
    last.index = i;
    if (i > 0 && last.time < heap[(i - 1) >> 1]!.time) this.up(i);
    else this.down(i);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.time <= item.time) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = item;
    item.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.time < heap[l]!.time ? r : l;
      const child = heap[c]!;
      if (child.time >= item.time) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = item;
    item.index = i;
  }
}

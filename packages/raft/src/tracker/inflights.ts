// Inflights bounds the MsgApp messages a leader has sent to one follower and
// not yet seen acknowledged: at most `size` messages and `maxBytes` bytes of
// payload. It is a ring buffer of (last index, bytes) pairs; an
// acknowledgement of index i frees every message whose last index is <= i.

export class Inflights {
  private start = 0;
  private n = 0;
  private total = 0;
  // Grown on demand up to `size`, so that idle followers cost little.
  private indexes: number[] = [];
  private sizes: number[] = [];

  constructor(
    readonly size: number,
    readonly maxBytes = 0,
  ) {}

  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.start = this.start;
    c.n = this.n;
    c.total = this.total;
    c.indexes = this.indexes.slice();
    c.sizes = this.sizes.slice();
    return c;
  }

  /** Records a message ending at index `index` carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a Full inflights');
    let next = this.start + this.n;
    if (next >= this.size) next -= this.size;
    if (next >= this.indexes.length) {
      this.indexes.push(index);
      this.sizes.push(bytes);
    } else {
      this.indexes[next] = index;
      this.sizes[next] = bytes;
    }
    this.n++;
    this.total += bytes;
  }

  /** Frees the messages whose last index is at most `to`. */
  freeLE(to: number): void {
    if (this.n === 0 || to < this.indexes[this.start]!) return;
    let idx = this.start;
    let i = 0;
    let bytes = 0;
    for (; i < this.n; i++) {
      if (to < this.indexes[idx]!) break;
      bytes += this.sizes[idx]!;
      if (++idx >= this.size) idx -= this.size;
    }
    this.n -= i;
    this.total -= bytes;
    this.start = idx;
    if (this.n === 0) this.start = 0; // keep the ring packed at the front
  }

  /**
   * Frees the oldest message. A heartbeat response from a follower whose
   * window is full uses this to let one message through, in case the ones in
   * flight were lost.
   */
  freeFirstOne(): void {
    if (this.n === 0) return;
    this.freeLE(this.indexes[this.start]!);
  }

  /** Whether no more messages may be sent: the count or the byte budget is used up. */
  full(): boolean {
    return this.n === this.size || (this.maxBytes !== 0 && this.total >= this.maxBytes);
  }

  count(): number {
    return this.n;
  }

  bytes(): number {
    return this.total;
  }

  reset(): void {
    this.n = 0;
    this.start = 0;
    this.total = 0;
  }
}

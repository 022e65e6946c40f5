import { fromBinaryString, toBinaryString } from './bytes.js';

/** A buffered write: the value, or null for a delete. */
export type BufferedValue = Buffer | null;

/** One bucket's writes in key order, ready to commit or merge into a range. */
export type BufferedEntries = Array<[Buffer, BufferedValue]>;

/** The answer of a lookup in the buffer: the value, null for a delete, undefined when absent. */
export type Lookup = BufferedValue | undefined;

/** First capacity of a sequential log's byte arenas; they double as needed. */
const INITIAL_ARENA_BYTES = 64 * 1024;

/**
 * The writes of the open batch, per bucket, not yet committed to LMDB (etcd's
 * txWriteBuffer and txReadBuffer in one: in a single-threaded process a reader can never
 * observe a write transaction half way, so readers consult the same buffer the writer
 * fills). A value of `null` records a delete, so a buffered delete hides the committed
 * entry it removes.
 */
export class TxBuffer {
  private readonly buckets = new Map<string, BucketBuffer>();
  /** Number of buffered operations (puts and deletes) across all buckets. */
  private ops = 0;

  get pending(): number {
    return this.ops;
  }

  /** The bucket's buffered writes, undefined when it has none. */
  bucket(name: string): BucketBuffer | undefined {
    const b = this.buckets.get(name);
    return b !== undefined && !b.isEmpty() ? b : undefined;
  }

  put(bucket: string, key: Uint8Array, value: Buffer): void {
    this.writable(bucket).put(key, value, false);
    this.ops++;
  }

  /** A put whose key is expected to sort after every key buffered for the bucket. */
  seqPut(bucket: string, key: Uint8Array, value: Uint8Array): void {
    this.writable(bucket).put(key, value, true);
    this.ops++;
  }

  delete(bucket: string, key: Uint8Array): void {
    this.writable(bucket).put(key, null, false);
    this.ops++;
  }

  /**
   * Drains the buffer: each bucket's writes, in key order, ready to commit. Keys and values
   * of sequential puts are views of the bucket's arenas, valid until the next write.
   */
  drain(): Array<{ bucket: string; writes: BufferedEntries }> {
    const out: Array<{ bucket: string; writes: BufferedEntries }> = [];
    for (const [bucket, writes] of this.buckets) {
      if (writes.isEmpty()) continue;
      out.push({ bucket, writes: writes.entries(undefined, undefined, false) });
      // The arenas are kept for the next batch (no regrowing them every time): the entries
      // above view them, so they must be consumed before the next write.
      writes.reset();
    }
    this.ops = 0;
    return out;
  }

  /**
   * The buffered writes of `bucket` with keys in [start, end) (end undefined: to the end
   * of the bucket), in key order. Values are only valid until the next write.
   */
  rangeOf(bucket: string, start: Uint8Array, end: Uint8Array | undefined): BufferedEntries {
    const writes = this.bucket(bucket);
    return writes === undefined ? [] : writes.entries(start, end, true);
  }

  private writable(bucket: string): BucketBuffer {
    let b = this.buckets.get(bucket);
    if (b === undefined) {
      b = new BucketBuffer();
      this.buckets.set(bucket, b);
    }
    return b;
  }
}

/**
 * One bucket's buffered writes, in two parts. Keys written in increasing order (the key
 * bucket's revisions, etcd's UnsafeSeqPut) go to a sequential log: keys and values are
 * copied into two growing byte arenas, so a put allocates no object that outlives it and
 * a lookup of a key below the log's first key costs one comparison. Every other write
 * goes to a Map keyed by the key's binary string. A key lives in exactly one of the two.
 */
export class BucketBuffer {
  private readonly map = new Map<string, BufferedValue>();
  private keyArena: Buffer = Buffer.allocUnsafe(0);
  private valArena: Buffer = Buffer.allocUnsafe(0);
  private keyUsed = 0;
  private valUsed = 0;
  /** Entry i's key is keyArena[keyOff[i], keyOff[i+1]). */
  private keyOff: Int32Array = new Int32Array(64);
  /** Entry i's value is valArena[valOff[i], valOff[i] + valLen[i]); valLen -1 is a delete. */
  private valOff: Int32Array = new Int32Array(64);
  private valLen: Int32Array = new Int32Array(64);
  private count = 0;

  /** Forgets every write, keeping the arenas' memory. */
  reset(): void {
    this.map.clear();
    this.count = 0;
    this.keyUsed = 0;
    this.valUsed = 0;
  }

  isEmpty(): boolean {
    return this.count === 0 && this.map.size === 0;
  }

  /** The buffered write of `key`: its value, null when deleted, undefined when absent. */
  get(key: Uint8Array): Lookup {
    const i = this.find(key);
    if (i >= 0) return this.valueAt(i);
    if (this.map.size === 0) return undefined;
    return this.map.get(toBinaryString(key));
  }

  /**
   * Buffers a write. A sequential put's value is copied into the arena (the caller may
   * reuse it); any other value is kept as it is, so the caller hands over its own copy.
   */
  put(key: Uint8Array, value: Uint8Array | null, sequential: boolean): void {
    const n = this.count;
    if (n > 0) {
      const vsLast = compareAt(key, this.keyArena, this.keyOff[n - 1]!, this.keyOff[n]!);
      if (vsLast === 0) {
        this.setValue(n - 1, value);
        return;
      }
      if (vsLast < 0) {
        // Inside the log's key span: overwrite in place when the key is there.
        const i = this.find(key);
        if (i >= 0) this.setValue(i, value);
        else this.map.set(toBinaryString(key), owned(value, sequential));
        return;
      }
    }
    if (sequential && value !== null) {
      if (this.map.size > 0) this.map.delete(toBinaryString(key));
      this.append(key, value);
      return;
    }
    this.map.set(toBinaryString(key), owned(value, sequential));
  }

  /**
   * Entries with key in [start, end) (both undefined: all), in key order; the keys are
   * copies when `copyKeys`, else views of the arena (for a commit that consumes them).
   */
  entries(
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    copyKeys: boolean,
  ): BufferedEntries {
    const seq: BufferedEntries = [];
    let i = start === undefined ? 0 : this.lowerBound(start);
    for (; i < this.count; i++) {
      const ks = this.keyOff[i]!;
      const ke = this.keyOff[i + 1]!;
      if (end !== undefined && compareAt(end, this.keyArena, ks, ke) <= 0) break;
      const key = this.keyArena.subarray(ks, ke);
      seq.push([copyKeys ? Buffer.from(key) : key, this.valueAt(i)]);
    }
    if (this.map.size === 0) return seq;
    const lo = start === undefined ? '' : toBinaryString(start);
    const hi = end === undefined ? undefined : toBinaryString(end);
    const picked: Array<[string, BufferedValue]> = [];
    for (const entry of this.map) {
      const k = entry[0];
      if (k >= lo && (hi === undefined || k < hi)) picked.push(entry);
    }
    picked.sort(compareEntries);
    const fromMap: BufferedEntries = picked.map(([k, v]) => [fromBinaryString(k), v]);
    return seq.length === 0 ? fromMap : merge(seq, fromMap);
  }

  private append(key: Uint8Array, value: Uint8Array): void {
    const n = this.count;
    if (n + 2 > this.keyOff.length) {
      this.keyOff = grow(this.keyOff);
      this.valOff = grow(this.valOff);
      this.valLen = grow(this.valLen);
    }
    if (n === 0) this.keyOff[0] = this.keyUsed;
    this.keyArena = reserve(this.keyArena, this.keyUsed, key.length);
    this.keyArena.set(key, this.keyUsed);
    this.keyUsed += key.length;
    this.keyOff[n + 1] = this.keyUsed;
    this.count = n + 1;
    this.setValue(n, value);
  }

  private setValue(i: number, value: Uint8Array | null): void {
    if (value === null) {
      this.valLen[i] = -1;
      return;
    }
    this.valArena = reserve(this.valArena, this.valUsed, value.length);
    this.valArena.set(value, this.valUsed);
    this.valOff[i] = this.valUsed;
    this.valLen[i] = value.length;
    this.valUsed += value.length;
  }

  /** A view of entry i's value (valid until the arena grows), or null for a delete. */
  private valueAt(i: number): BufferedValue {
    const len = this.valLen[i]!;
    if (len < 0) return null;
    const off = this.valOff[i]!;
    return this.valArena.subarray(off, off + len);
  }

  /** The log index of `key`, or -1. */
  private find(key: Uint8Array): number {
    const n = this.count;
    if (n === 0) return -1;
    if (compareAt(key, this.keyArena, this.keyOff[0]!, this.keyOff[1]!) < 0) return -1;
    const i = this.lowerBound(key);
    if (i < n && compareAt(key, this.keyArena, this.keyOff[i]!, this.keyOff[i + 1]!) === 0) {
      return i;
    }
    return -1;
  }

  /** The first log index whose key is >= key. */
  private lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareAt(key, this.keyArena, this.keyOff[mid]!, this.keyOff[mid + 1]!) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** The value to keep in the map: a copy of what a sequential put lent us. */
function owned(value: Uint8Array | null, borrowed: boolean): BufferedValue {
  if (value === null) return null;
  return borrowed || !Buffer.isBuffer(value) ? Buffer.from(value) : value;
}

/** Byte order of `key` against arena[start, end): negative, zero or positive. */
function compareAt(key: Uint8Array, arena: Uint8Array, start: number, end: number): number {
  const len = end - start;
  const n = Math.min(key.length, len);
  for (let i = 0; i < n; i++) {
    const d = key[i]! - arena[start + i]!;
    if (d !== 0) return d;
  }
  return key.length - len;
}

/** `arena` with room for `extra` more bytes after `used` (a doubled copy when full). */
function reserve(arena: Buffer, used: number, extra: number): Buffer {
  if (used + extra <= arena.length) return arena;
  let size = Math.max(arena.length * 2, INITIAL_ARENA_BYTES);
  while (size < used + extra) size *= 2;
  const bigger = Buffer.allocUnsafeSlow(size);
  arena.copy(bigger, 0, 0, used);
  return bigger;
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function compareEntries(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Merges two key-ordered entry lists with no key in both. */
function merge(a: BufferedEntries, b: BufferedEntries): BufferedEntries {
  const out: BufferedEntries = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (Buffer.compare(a[i]![0], b[j]![0]) < 0) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

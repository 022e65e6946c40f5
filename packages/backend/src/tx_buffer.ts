import { fromBinaryString } from './bytes.js';

/**
 * The writes of the open batch, per bucket, not yet committed to LMDB (etcd's
 * txWriteBuffer and txReadBuffer in one: in a single-threaded process a reader can never
 * observe a write transaction half way, so readers consult the same buffer the writer
 * fills). A value of `null` records a delete, so a buffered delete hides the committed
 * entry it removes.
 */
export class TxBuffer {
  private readonly buckets = new Map<string, Map<string, Buffer | null>>();
  /** Number of buffered operations (puts and deletes) across all buckets. */
  private ops = 0;

  get pending(): number {
    return this.ops;
  }

  bucket(name: string): Map<string, Buffer | null> | undefined {
    const b = this.buckets.get(name);
    return b !== undefined && b.size > 0 ? b : undefined;
  }

  put(bucket: string, key: string, value: Buffer): void {
    this.writable(bucket).set(key, value);
    this.ops++;
  }

  delete(bucket: string, key: string): void {
    this.writable(bucket).set(key, null);
    this.ops++;
  }

  /** Drains the buffer: each bucket's writes, in key order, ready to commit. */
  drain(): Array<{ bucket: string; writes: Array<[string, Buffer | null]> }> {
    const out: Array<{ bucket: string; writes: Array<[string, Buffer | null]> }> = [];
    for (const [bucket, writes] of this.buckets) {
      if (writes.size === 0) continue;
      out.push({ bucket, writes: sortedEntries(writes) });
    }
    this.buckets.clear();
    this.ops = 0;
    return out;
  }

  /**
   * The buffered writes of `bucket` with keys in [start, end) (end undefined: to the end
   * of the bucket), in key order, keys as Buffers.
   */
  rangeOf(bucket: string, start: string, end: string | undefined): Array<[Buffer, Buffer | null]> {
    const writes = this.bucket(bucket);
    if (writes === undefined) return [];
    const picked: Array<[string, Buffer | null]> = [];
    for (const entry of writes) {
      const k = entry[0];
      if (k >= start && (end === undefined || k < end)) picked.push(entry);
    }
    picked.sort(compareEntries);
    return picked.map(([k, v]) => [fromBinaryString(k), v]);
  }

  private writable(bucket: string): Map<string, Buffer | null> {
    let b = this.buckets.get(bucket);
    if (b === undefined) {
      b = new Map();
      this.buckets.set(bucket, b);
    }
    return b;
  }
}

function compareEntries(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The entries of `m` in key order; insertion order is kept when it already is (the
 * common case for the key bucket, whose keys are increasing revisions). */
function sortedEntries(m: Map<string, Buffer | null>): Array<[string, Buffer | null]> {
  const entries = Array.from(m);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i - 1]![0] >= entries[i]![0]) {
      entries.sort(compareEntries);
      break;
    }
  }
  return entries;
}

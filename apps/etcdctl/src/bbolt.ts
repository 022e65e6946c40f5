// A read-only reader of bbolt database files: what etcd's backend and its snapshot files
// are. Enough to walk every bucket in key order (for `snapshot status`), following
// bbolt's on-disk layout: two meta pages, branch and leaf pages of a B+tree per bucket,
// and inline buckets stored inside their parent's leaf value.

const MAGIC = 0xed0cdaed;
const VERSION = 2;
const PAGE_HEADER_SIZE = 16;
const ELEMENT_SIZE = 16;
const BRANCH_PAGE = 0x01;
const LEAF_PAGE = 0x02;
const META_PAGE = 0x04;
const BUCKET_LEAF_FLAG = 0x01;
const BUCKET_HEADER_SIZE = 16;
/** Bound on tree depth while walking, against a corrupt file that loops. */
const MAX_DEPTH = 64;

export class BoltError extends Error {}

interface Meta {
  pageSize: number;
  root: bigint;
  /** The high-water mark: pages in use (the file size bbolt reports). */
  pgid: bigint;
  txid: bigint;
}

/** FNV-1a 64 of the meta page's fields before its checksum. */
function fnv64a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffff_ffff_ffff_ffffn;
  }
  return h;
}

function readMeta(buf: Buffer, offset: number): Meta | undefined {
  if (offset + PAGE_HEADER_SIZE + 64 > buf.length) return undefined;
  const flags = buf.readUInt16LE(offset + 8);
  if ((flags & META_PAGE) === 0) return undefined;
  const m = offset + PAGE_HEADER_SIZE;
  if (buf.readUInt32LE(m) !== MAGIC || buf.readUInt32LE(m + 4) !== VERSION) return undefined;
  const checksum = buf.readBigUInt64LE(m + 56);
  if (fnv64a(buf.subarray(m, m + 56)) !== checksum) return undefined;
  return {
    pageSize: buf.readUInt32LE(m + 8),
    root: buf.readBigUInt64LE(m + 16),
    pgid: buf.readBigUInt64LE(m + 40),
    txid: buf.readBigUInt64LE(m + 48),
  };
}

/** A bbolt file opened for reading. */
export class BoltDB {
  readonly meta: Meta;

  constructor(private readonly buf: Buffer) {
    const first = readMeta(buf, 0);
    // The second meta page sits one page in; its size is the first's (or 4096).
    const pageSize = first?.pageSize ?? 4096;
    const second = readMeta(buf, pageSize);
    const candidates = [first, second].filter((m): m is Meta => m !== undefined);
    if (candidates.length === 0) throw new BoltError('invalid database');
    this.meta = candidates.reduce((a, b) => (b.txid > a.txid ? b : a));
  }

  /** The database size as a transaction sees it (pages in use x page size). */
  get size(): number {
    return Number(this.meta.pgid) * this.meta.pageSize;
  }

  private page(id: bigint): { data: Buffer; flags: number; count: number } {
    const offset = Number(id) * this.meta.pageSize;
    if (offset + PAGE_HEADER_SIZE > this.buf.length) throw new BoltError(`page ${id} out of range`);
    const flags = this.buf.readUInt16LE(offset + 8);
    const count = this.buf.readUInt16LE(offset + 10);
    const overflow = this.buf.readUInt32LE(offset + 12);
    const end = offset + (overflow + 1) * this.meta.pageSize;
    return { data: this.buf.subarray(offset, Math.min(end, this.buf.length)), flags, count };
  }

  /** Every (key, value, isBucket) of the bucket rooted at `root` (or inline in `inline`), in order. */
  private *walk(
    root: bigint,
    inline: Buffer | undefined,
    depth = 0,
  ): Generator<{ key: Buffer; value: Buffer; bucket: boolean }> {
    if (depth > MAX_DEPTH) throw new BoltError('tree too deep');
    const p =
      inline === undefined
        ? this.page(root)
        : { data: inline, flags: inline.readUInt16LE(8), count: inline.readUInt16LE(10) };
    if ((p.flags & LEAF_PAGE) !== 0) {
      for (let i = 0; i < p.count; i++) {
        const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        const flags = p.data.readUInt32LE(e);
        const pos = p.data.readUInt32LE(e + 4);
        const ksize = p.data.readUInt32LE(e + 8);
        const vsize = p.data.readUInt32LE(e + 12);
        const k = e + pos;
        yield {
          key: p.data.subarray(k, k + ksize),
          value: p.data.subarray(k + ksize, k + ksize + vsize),
          bucket: (flags & BUCKET_LEAF_FLAG) !== 0,
        };
      }
      return;
    }
    if ((p.flags & BRANCH_PAGE) !== 0) {
      for (let i = 0; i < p.count; i++) {
        const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        const child = p.data.readBigUInt64LE(e + 8);
        yield* this.walk(child, undefined, depth + 1);
      }
      return;
    }
    throw new BoltError(`unexpected page type ${p.flags} in a bucket`);
  }

  /** The top-level buckets in key order, each with an iterator over its key-values. */
  *buckets(): Generator<{
    name: Buffer;
    entries: () => Generator<{ key: Buffer; value: Buffer }>;
  }> {
    for (const entry of this.walk(this.meta.root, undefined)) {
      if (!entry.bucket) continue;
      const root = entry.value.readBigUInt64LE(0);
      const inline = root === 0n ? entry.value.subarray(BUCKET_HEADER_SIZE) : undefined;
      const self = this;
      yield {
        name: entry.key,
        entries: function* () {
          for (const kv of self.walk(root, inline)) yield { key: kv.key, value: kv.value };
        },
      };
    }
  }
}

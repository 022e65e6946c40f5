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

/** One bucket's contents for the writer: sorted by key. */
export interface BoltBucket {
  name: Buffer;
  entries: { key: Buffer; value: Buffer }[];
}

const FREELIST_PAGE = 0x10;

/** Reads every top-level bucket with its entries (small databases: snapshot files). */
export function readAll(db: BoltDB): BoltBucket[] {
  const out: BoltBucket[] = [];
  for (const b of db.buckets()) {
    out.push({
      name: Buffer.from(b.name),
      entries: [...b.entries()].map((e) => ({
        key: Buffer.from(e.key),
        value: Buffer.from(e.value),
      })),
    });
  }
  return out;
}

/**
 * Writes a fresh bbolt file holding `buckets` (top-level buckets, each sorted by key):
 * two meta pages, an empty freelist, then each bucket's B+tree (leaf pages packed full,
 * branch pages above them), then the root bucket's tree naming them. bbolt (and so etcd)
 * opens it like any database it wrote itself.
 */
export function writeBolt(buckets: BoltBucket[], pageSize = 4096): Buffer {
  const pages: Buffer[] = [];
  let nextPgid = 3; // 0 and 1: meta, 2: freelist
  const allocate = (size: number): { id: number; buf: Buffer } => {
    const count = Math.max(1, Math.ceil(size / pageSize));
    const id = nextPgid;
    nextPgid += count;
    const buf = Buffer.alloc(count * pageSize);
    buf.writeBigUInt64LE(BigInt(id), 0);
    buf.writeUInt32LE(count - 1, 12);
    pages.push(buf);
    return { id, buf };
  };

  /** Leaf pages for entries; returns each page's id and first key. */
  const leaves = (entries: { key: Buffer; value: Buffer; flags: number }[]) => {
    const out: { id: number; first: Buffer }[] = [];
    let i = 0;
    do {
      let size = PAGE_HEADER_SIZE;
      let n = 0;
      while (i + n < entries.length) {
        const e = entries[i + n]!;
        const add = ELEMENT_SIZE + e.key.length + e.value.length;
        if (n > 0 && size + add > pageSize) break;
        size += add;
        n++;
      }
      const { id, buf } = allocate(size);
      buf.writeUInt16LE(LEAF_PAGE, 8);
      buf.writeUInt16LE(n, 10);
      let data = PAGE_HEADER_SIZE + n * ELEMENT_SIZE;
      for (let j = 0; j < n; j++) {
        const e = entries[i + j]!;
        const elem = PAGE_HEADER_SIZE + j * ELEMENT_SIZE;
        buf.writeUInt32LE(e.flags, elem);
        buf.writeUInt32LE(data - elem, elem + 4);
        buf.writeUInt32LE(e.key.length, elem + 8);
        buf.writeUInt32LE(e.value.length, elem + 12);
        e.key.copy(buf, data);
        e.value.copy(buf, data + e.key.length);
        data += e.key.length + e.value.length;
      }
      out.push({ id, first: n > 0 ? entries[i]!.key : Buffer.alloc(0) });
      i += n;
    } while (i < entries.length);
    return out;
  };

  /** Branch pages over children until one root remains; returns the root's page id. */
  const tree = (children: { id: number; first: Buffer }[]): number => {
    let level = children;
    while (level.length > 1) {
      const up: { id: number; first: Buffer }[] = [];
      let i = 0;
      while (i < level.length) {
        let size = PAGE_HEADER_SIZE;
        let n = 0;
        while (i + n < level.length) {
          const add = ELEMENT_SIZE + level[i + n]!.first.length;
          if (n > 1 && size + add > pageSize) break;
          size += add;
          n++;
        }
        const { id, buf } = allocate(size);
        buf.writeUInt16LE(BRANCH_PAGE, 8);
        buf.writeUInt16LE(n, 10);
        let data = PAGE_HEADER_SIZE + n * ELEMENT_SIZE;
        for (let j = 0; j < n; j++) {
          const c = level[i + j]!;
          const elem = PAGE_HEADER_SIZE + j * ELEMENT_SIZE;
          buf.writeUInt32LE(data - elem, elem);
          buf.writeUInt32LE(c.first.length, elem + 4);
          buf.writeBigUInt64LE(BigInt(c.id), elem + 8);
          c.first.copy(buf, data);
          data += c.first.length;
        }
        up.push({ id, first: level[i]!.first });
        i += n;
      }
      level = up;
    }
    return level[0]!.id;
  };

  const sorted = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));
  const rootEntries = sorted.map((b) => {
    const root = tree(leaves(b.entries.map((e) => ({ ...e, flags: 0 }))));
    const header = Buffer.alloc(BUCKET_HEADER_SIZE);
    header.writeBigUInt64LE(BigInt(root), 0);
    return { key: b.name, value: header, flags: BUCKET_LEAF_FLAG };
  });
  const root = tree(leaves(rootEntries));

  const file = Buffer.alloc(nextPgid * pageSize);
  for (const p of pages) p.copy(file, Number(p.readBigUInt64LE(0)) * pageSize);
  // The freelist: empty, every page is in use.
  file.writeBigUInt64LE(2n, 2 * pageSize);
  file.writeUInt16LE(FREELIST_PAGE, 2 * pageSize + 8);
  for (const [pgid, txid] of [
    [0, 0n],
    [1, 1n],
  ] as const) {
    const o = pgid * pageSize;
    file.writeBigUInt64LE(BigInt(pgid), o);
    file.writeUInt16LE(META_PAGE, o + 8);
    const m = o + PAGE_HEADER_SIZE;
    file.writeUInt32LE(MAGIC, m);
    file.writeUInt32LE(VERSION, m + 4);
    file.writeUInt32LE(pageSize, m + 8);
    file.writeUInt32LE(0, m + 12);
    file.writeBigUInt64LE(BigInt(root), m + 16);
    file.writeBigUInt64LE(0n, m + 24);
    file.writeBigUInt64LE(2n, m + 32);
    file.writeBigUInt64LE(BigInt(nextPgid), m + 40);
    file.writeBigUInt64LE(txid, m + 48);
    file.writeBigUInt64LE(fnv64a(file.subarray(m, m + 56)), m + 56);
  }
  return file;
}

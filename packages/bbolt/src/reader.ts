import fs from 'node:fs';
import {
  BOLT_MAGIC,
  BoltError,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  decodeMeta,
  ELEMENT_SIZE,
  type Meta,
  PAGE_HEADER_SIZE,
  PageFlag,
  PGID_NO_FREELIST,
  readPageHeader,
  view,
} from './format.js';

/** Where a reader gets its bytes: a whole file in memory, or positional reads of a file. */
export interface PageSource {
  /** Bytes available (the file's size). */
  readonly size: number;
  /** `length` bytes at `offset` (fewer only at the end of the source). */
  read(offset: number, length: number): Uint8Array;
  close?(): void;
}

/** A page source over bytes already in memory (a snapshot received whole, a test's buffer). */
export function bufferSource(bytes: Uint8Array): PageSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, Math.min(offset + length, bytes.length)),
  };
}

/** A page source reading a file page by page: memory stays bounded whatever its size. */
export function fileSource(path: string): PageSource {
  const fd = fs.openSync(path, 'r');
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const got = fs.readSync(fd, buf, done, n - done, offset + done);
        if (got === 0) break;
        done += got;
      }
      return buf.subarray(0, done);
    },
    close: () => fs.closeSync(fd),
  };
}

/** One element of a bucket's leaf: a key/value pair, or a nested bucket (value: its header). */
export interface BoltEntry {
  key: Uint8Array;
  value: Uint8Array;
  /** True when the value is a nested bucket rather than data (etcd never nests buckets). */
  bucket: boolean;
}

/** A bucket's location: a root page, or (root 0) the inline page image inside its parent. */
interface BucketRef {
  root: bigint;
  sequence: bigint;
  inline: Uint8Array | undefined;
}

/** Bound on tree depth while walking: a corrupt file whose branches loop stops here. */
const MAX_DEPTH = 64;

/**
 * A bbolt database opened read-only, as bbolt's read transaction sees it: the newer of the
 * two meta pages whose checksum holds, then each bucket's B+tree of branch and leaf pages
 * (with overflow pages for large elements, and small buckets inline in their parent).
 * Reads page by page from its {@link PageSource}; nothing is cached.
 */
export class BoltReader {
  readonly meta: Meta;
  /** Which meta page was chosen (0 or 1). */
  readonly metaPage: 0 | 1;
  private readonly source: PageSource;

  constructor(source: PageSource) {
    this.source = source;
    const first = decodeMeta(source.read(0, DEFAULT_PAGE_SIZE));
    // The second meta sits one page in: the first's page size when it is valid (as bbolt
    // reads it), else the common 4096.
    const pageSize = typeof first === 'object' ? first.pageSize : DEFAULT_PAGE_SIZE;
    const second = decodeMeta(source.read(pageSize, DEFAULT_PAGE_SIZE));
    if (typeof first === 'object' && typeof second === 'object') {
      this.metaPage = second.txid > first.txid ? 1 : 0;
      this.meta = this.metaPage === 1 ? second : first;
    } else if (typeof first === 'object') {
      this.meta = first;
      this.metaPage = 0;
    } else if (typeof second === 'object') {
      this.meta = second;
      this.metaPage = 1;
    } else {
      throw new BoltError(first === 'invalid' ? 'invalid database' : first);
    }
    const ps = this.meta.pageSize;
    if (ps < 1024 || ps > 65536 || (ps & (ps - 1)) !== 0)
      throw new BoltError(`invalid page size ${ps}`);
  }

  /** Opens the bbolt file at `path` for page-by-page reading; close it when done. */
  static open(path: string): BoltReader {
    const source = fileSource(path);
    try {
      return new BoltReader(source);
    } catch (err) {
      source.close?.();
      throw err;
    }
  }

  /** Reads a database held in memory. */
  static fromBytes(bytes: Uint8Array): BoltReader {
    return new BoltReader(bufferSource(bytes));
  }

  close(): void {
    this.source.close?.();
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** The database's size as a transaction sees it (high-water mark x page size): bbolt's tx.Size(). */
  get size(): number {
    return Number(this.meta.pgid) * this.meta.pageSize;
  }

  /** The top-level buckets in name order. */
  *buckets(): Generator<BoltBucket> {
    for (const e of this.elements(this.rootRef(), 0)) {
      if (!e.bucket) continue;
      yield new BoltBucket(this, e.key, this.bucketRef(e.value));
    }
  }

  /** The top-level bucket called `name`, or undefined. */
  bucket(name: Uint8Array | string): BoltBucket | undefined {
    const want = typeof name === 'string' ? Buffer.from(name) : name;
    for (const b of this.buckets()) if (Buffer.compare(b.name, want) === 0) return b;
    return undefined;
  }

  /**
   * Checks the file as `bbolt check` (tx.Check) does: every page below the high-water mark
   * is reachable from the root bucket, a meta or the freelist exactly once, or free; every
   * reachable page is a branch or a leaf; and (beyond bbolt's check) keys ascend.
   * Returns the problems found, in bbolt's words; empty when the file is sound.
   */
  check(): string[] {
    const problems: string[] = [];
    const high = this.meta.pgid;
    const freed = new Set<bigint>();
    for (const id of this.freePages()) {
      if (freed.has(id)) problems.push(`page ${id}: already freed`);
      freed.add(id);
    }
    const reachable = new Set<bigint>([0n, 1n]);
    if (this.meta.freelist !== PGID_NO_FREELIST) {
      const h = this.header(this.meta.freelist);
      for (let i = 0n; i <= BigInt(h.overflow); i++) reachable.add(this.meta.freelist + i);
    }
    const checkTree = (ref: BucketRef) => {
      if (ref.root === 0n) return;
      this.forEachPage(ref.root, 0, (id, flags, overflow) => {
        if (id > high) problems.push(`page ${id}: out of bounds: ${high}`);
        for (let i = 0n; i <= BigInt(overflow); i++) {
          if (reachable.has(id + i)) problems.push(`page ${id + i}: multiple references`);
          reachable.add(id + i);
        }
        if (freed.has(id)) problems.push(`page ${id}: reachable freed`);
        else if ((flags & (PageFlag.branch | PageFlag.leaf)) === 0)
          problems.push(`page ${id}: invalid type: ${flags}`);
      });
      let previous: Uint8Array | undefined;
      for (const e of this.elements(ref, 0)) {
        if (previous !== undefined && Buffer.compare(previous, e.key) >= 0)
          problems.push(`key ${Buffer.from(e.key).toString('hex')}: out of order`);
        previous = e.key;
        if (e.bucket) checkTree(this.bucketRef(e.value));
      }
    };
    try {
      checkTree(this.rootRef());
    } catch (err) {
      problems.push((err as Error).message);
    }
    // Without a stored freelist (etcd opens bbolt with NoFreelistSync), bbolt rebuilds it
    // as every unreachable page, so none can be "unreachable unfreed".
    if (this.meta.freelist !== PGID_NO_FREELIST)
      for (let i = 0n; i < high; i++)
        if (!reachable.has(i) && !freed.has(i)) problems.push(`page ${i}: unreachable unfreed`);
    return problems;
  }

  /**
   * The page ids the stored freelist names. Empty when the freelist is not stored (bbolt's
   * NoFreelistSync, which etcd uses): bbolt then treats every unreachable page as free.
   */
  freePages(): bigint[] {
    if (this.meta.freelist === PGID_NO_FREELIST) return [];
    const { bytes, header } = this.page(this.meta.freelist);
    if ((header.flags & PageFlag.freelist) === 0)
      throw new BoltError(`invalid freelist page: ${this.meta.freelist}`);
    const v = view(bytes);
    let start = PAGE_HEADER_SIZE;
    let count = header.count;
    // A count of 0xFFFF means the real count is the first element.
    if (count === 0xffff) {
      count = Number(v.getBigUint64(start, true));
      start += 8;
    }
    if (start + count * 8 > bytes.length) throw new BoltError('freelist overruns its page');
    const ids: bigint[] = [];
    for (let i = 0; i < count; i++) ids.push(v.getBigUint64(start + i * 8, true));
    return ids;
  }

  // ---- internals shared with BoltBucket ----

  /** The elements of the bucket at `ref`, in key order. */
  *elements(ref: BucketRef, depth: number): Generator<BoltEntry> {
    if (ref.inline !== undefined) {
      yield* leafElements(ref.inline, readPageHeader(ref.inline).count);
      return;
    }
    yield* this.walk(ref.root, depth);
  }

  private *walk(id: bigint, depth: number): Generator<BoltEntry> {
    if (depth > MAX_DEPTH) throw new BoltError('tree too deep (a loop in a corrupt file?)');
    const { bytes, header } = this.page(id);
    if ((header.flags & PageFlag.leaf) !== 0) {
      yield* leafElements(bytes, header.count);
    } else if ((header.flags & PageFlag.branch) !== 0) {
      for (const child of branchChildren(bytes, header.count)) yield* this.walk(child, depth + 1);
    } else {
      throw new BoltError(`page ${id}: invalid page type: ${header.flags} in a bucket`);
    }
  }

  private forEachPage(
    id: bigint,
    depth: number,
    fn: (id: bigint, flags: number, overflow: number) => void,
  ): void {
    if (depth > MAX_DEPTH) throw new BoltError('tree too deep (a loop in a corrupt file?)');
    const { bytes, header } = this.page(id);
    fn(id, header.flags, header.overflow);
    if ((header.flags & PageFlag.branch) !== 0)
      for (const child of branchChildren(bytes, header.count))
        this.forEachPage(child, depth + 1, fn);
  }

  private rootRef(): BucketRef {
    return { root: this.meta.root, sequence: this.meta.sequence, inline: undefined };
  }

  bucketRef(value: Uint8Array): BucketRef {
    if (value.length < BUCKET_HEADER_SIZE) throw new BoltError('bucket header too short');
    const v = view(value);
    const root = v.getBigUint64(0, true);
    const sequence = v.getBigUint64(8, true);
    if (root !== 0n) return { root, sequence, inline: undefined };
    const inline = value.subarray(BUCKET_HEADER_SIZE);
    if (inline.length < PAGE_HEADER_SIZE) throw new BoltError('inline bucket too short');
    return { root, sequence, inline };
  }

  private header(id: bigint) {
    return readPageHeader(this.readAt(id, PAGE_HEADER_SIZE));
  }

  private page(id: bigint): { bytes: Uint8Array; header: ReturnType<typeof readPageHeader> } {
    const header = this.header(id);
    const bytes = this.readAt(id, (header.overflow + 1) * this.meta.pageSize);
    return { bytes, header };
  }

  private readAt(id: bigint, length: number): Uint8Array {
    if (id >= this.meta.pgid) throw new BoltError(`page ${id}: beyond the high-water mark`);
    const offset = Number(id) * this.meta.pageSize;
    const bytes = this.source.read(offset, length);
    if (bytes.length < Math.min(length, PAGE_HEADER_SIZE) || offset + length > this.source.size)
      throw new BoltError(`page ${id}: beyond the end of the file`);
    return bytes;
  }
}

/** A top-level bucket: its name and an iterator over its entries in key order. */
export class BoltBucket {
  constructor(
    private readonly db: BoltReader,
    readonly name: Uint8Array,
    private readonly ref: BucketRef,
  ) {}

  /** Whether the bucket is stored inside its parent's leaf (a small bucket). */
  get inline(): boolean {
    return this.ref.inline !== undefined;
  }

  get sequence(): bigint {
    return this.ref.sequence;
  }

  /**
   * Every element in key order. The bytes are views of the page they were read from:
   * valid as long as the reader's source (copy them to keep them past a file's close).
   */
  entries(): Generator<BoltEntry> {
    return this.db.elements(this.ref, 1);
  }

  /** The key/value pairs (nested buckets left out), as [key, value]. */
  *pairs(): Generator<[Uint8Array, Uint8Array]> {
    for (const e of this.entries()) if (!e.bucket) yield [e.key, e.value];
  }
}

function* leafElements(page: Uint8Array, count: number): Generator<BoltEntry> {
  const v = view(page);
  for (let i = 0; i < count; i++) {
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    if (e + ELEMENT_SIZE > page.length) throw new BoltError('leaf element beyond its page');
    const flags = v.getUint32(e, true);
    const k = e + v.getUint32(e + 4, true);
    const ksize = v.getUint32(e + 8, true);
    const vsize = v.getUint32(e + 12, true);
    if (k + ksize + vsize > page.length) throw new BoltError('leaf data beyond its page');
    yield {
      key: page.subarray(k, k + ksize),
      value: page.subarray(k + ksize, k + ksize + vsize),
      bucket: (flags & BUCKET_LEAF_FLAG) !== 0,
    };
  }
}

function* branchChildren(page: Uint8Array, count: number): Generator<bigint> {
  const v = view(page);
  for (let i = 0; i < count; i++) {
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    if (e + ELEMENT_SIZE > page.length) throw new BoltError('branch element beyond its page');
    yield v.getBigUint64(e + 8, true);
  }
}

/** Whether the file at `path` is a bbolt database (bbolt's magic at offset 16). */
export function isBoltFile(path: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(20);
    if (fs.readSync(fd, head, 0, 20, 0) < 20) return false;
    return head.readUInt32LE(PAGE_HEADER_SIZE) === BOLT_MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

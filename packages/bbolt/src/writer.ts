import {
  BoltError,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  ELEMENT_SIZE,
  encodeMetaPage,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  PAGE_HEADER_SIZE,
  PageFlag,
  view,
  writePageHeader,
} from './format.js';

/** One top-level bucket to write. */
export interface BoltBucketInput {
  name: Uint8Array;
  /** The bucket's sequence (bbolt's NextSequence counter); 0 by default. */
  sequence?: bigint;
  /**
   * The bucket's key/value pairs in strictly ascending byte order of key. Called twice
   * (once to lay the file out, once to write it): both calls must yield the same pairs,
   * as a consistent read (a read transaction) does.
   */
  entries(): Iterable<readonly [Uint8Array, Uint8Array]>;
}

export interface BoltWriteOptions {
  /** Page size of the new file; 4096 (what etcd uses on x86-64 and arm64) by default. */
  pageSize?: number;
  /** Pages are yielded in chunks of about this many bytes; 64 KiB by default. */
  chunkBytes?: number;
  /** Told the file's size once it is laid out, before the first chunk is yielded. */
  onSize?: (bytes: number) => void;
}

/** The shape of a file {@link writeBolt} would write, known before a byte of it is written. */
export interface BoltLayout {
  pageSize: number;
  /** The high-water mark: pages in the file. */
  pages: number;
  /** The file's size in bytes (pages x page size). */
  size: number;
  /** The root bucket's root page. */
  root: number;
  /** Per bucket (in name order): whether it is stored inline in the root bucket's leaf. */
  inline: boolean[];
}

const FREELIST_PGID = 2;
const FIRST_DATA_PGID = 3;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
const MIN_KEYS_PER_BRANCH = 2;

/** Hands out page ids in file order: the writer emits pages in exactly this order. */
class PageAllocator {
  constructor(public next: number) {}
  allocate(pages: number): number {
    const id = this.next;
    this.next += pages;
    return id;
  }
}

interface ChildRef {
  /** The child page's first key (only its length in a layout pass). */
  key: Uint8Array;
  keyLength: number;
  pgid: number;
}

interface PendingLeafElement {
  key: Uint8Array;
  value: Uint8Array;
  flags: number;
}

/**
 * Builds one bucket's B+tree bottom-up from its elements in key order: leaves are packed
 * full and written as they fill, and each level of branch pages gathers its children's
 * first keys, so memory holds at most one page per level. With no `sink` it only lays
 * the tree out (page ids and sizes), which the writer's first pass uses to learn where
 * everything will go before it writes the meta pages at the front of the file.
 */
class TreeBuilder {
  private leaf: PendingLeafElement[] = [];
  private leafBytes = PAGE_HEADER_SIZE;
  private leavesWritten = 0;
  /** levels[i]: children waiting for a branch page at height i+1. */
  private readonly levels: { refs: ChildRef[]; bytes: number; written: number }[] = [];

  constructor(
    private readonly pageSize: number,
    private readonly alloc: PageAllocator,
    private readonly sink: ((page: Uint8Array) => void) | undefined,
  ) {}

  add(key: Uint8Array, value: Uint8Array, flags: number): void {
    const size = ELEMENT_SIZE + key.length + value.length;
    if (this.leaf.length > 0 && this.leafBytes + size > this.pageSize) this.flushLeaf();
    // Copy when writing: the caller's buffers may be reused once it moves on.
    const keep = this.sink !== undefined;
    this.leaf.push({
      key: keep ? Uint8Array.from(key) : key,
      value: keep ? Uint8Array.from(value) : lengthOnly(value.length),
      flags,
    });
    this.leafBytes += size;
  }

  /** Writes what is pending and returns the root page id. */
  finish(): number {
    if (this.leaf.length > 0 || this.leavesWritten === 0) this.flushLeaf();
    for (let height = 0; ; height++) {
      const level = this.levels[height]!;
      const top = height === this.levels.length - 1;
      if (top && level.written === 0 && level.refs.length === 1) return level.refs[0]!.pgid;
      this.flushBranch(height);
    }
  }

  /**
   * Allocates the pages for `bytes` of a page's content and, when pages are written (not
   * in a layout pass), returns them zeroed with their header.
   */
  private newPage(
    bytes: number,
    flags: number,
    count: number,
  ): { pgid: number; page: Uint8Array | undefined } {
    const pages = Math.ceil(bytes / this.pageSize);
    const pgid = this.alloc.allocate(pages);
    if (this.sink === undefined) return { pgid, page: undefined };
    const page = new Uint8Array(pages * this.pageSize);
    writePageHeader(page, { id: BigInt(pgid), flags, count, overflow: pages - 1 });
    return { pgid, page };
  }

  private flushLeaf(): void {
    const { pgid, page } = this.newPage(this.leafBytes, PageFlag.leaf, this.leaf.length);
    if (page !== undefined) {
      writeLeafElements(page, this.leaf);
      this.sink!(page);
    }
    const first = this.leaf[0];
    this.addRef(0, {
      key: first?.key ?? EMPTY,
      keyLength: first?.key.length ?? 0,
      pgid,
    });
    this.leaf = [];
    this.leafBytes = PAGE_HEADER_SIZE;
    this.leavesWritten++;
  }

  private addRef(height: number, ref: ChildRef): void {
    let level = this.levels[height];
    if (level === undefined) {
      level = { refs: [], bytes: PAGE_HEADER_SIZE, written: 0 };
      this.levels[height] = level;
    }
    const size = ELEMENT_SIZE + ref.keyLength;
    // At least two children per branch (bbolt's minKeysPerPage): with huge keys, one per
    // page would never narrow the level and the tree would grow without end.
    if (level.refs.length >= MIN_KEYS_PER_BRANCH && level.bytes + size > this.pageSize)
      this.flushBranch(height);
    level.refs.push(ref);
    level.bytes += size;
  }

  private flushBranch(height: number): void {
    const level = this.levels[height]!;
    const refs = level.refs;
    const { pgid, page } = this.newPage(level.bytes, PageFlag.branch, refs.length);
    if (page !== undefined) {
      const v = view(page);
      let data = PAGE_HEADER_SIZE + refs.length * ELEMENT_SIZE;
      refs.forEach((r, i) => {
        const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        v.setUint32(e, data - e, true);
        v.setUint32(e + 4, r.keyLength, true);
        v.setBigUint64(e + 8, BigInt(r.pgid), true);
        page.set(r.key, data);
        data += r.keyLength;
      });
      this.sink!(page);
    }
    level.refs = [];
    level.bytes = PAGE_HEADER_SIZE;
    level.written++;
    const first = refs[0]!;
    this.addRef(height + 1, { key: first.key, keyLength: first.keyLength, pgid });
  }
}

const EMPTY = new Uint8Array(0);
/**
 * In a layout pass only lengths matter: a stand-in with the right length and no bytes
 * (never read; only page-building code reads bytes, and it runs with a sink).
 */
function lengthOnly(length: number): Uint8Array {
  return { length } as Uint8Array;
}

/** Writes leaf elements (headers first, then keys and values in order) after the page header. */
function writeLeafElements(page: Uint8Array, elements: readonly PendingLeafElement[]): void {
  const v = view(page);
  let data = PAGE_HEADER_SIZE + elements.length * ELEMENT_SIZE;
  elements.forEach((el, i) => {
    const e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    v.setUint32(e, el.flags, true);
    v.setUint32(e + 4, data - e, true);
    v.setUint32(e + 8, el.key.length, true);
    v.setUint32(e + 12, el.value.length, true);
    page.set(el.key, data);
    page.set(el.value, data + el.key.length);
    data += el.key.length + el.value.length;
  });
}

/** A bucket's header value: root page (0 for inline) and sequence, then the inline page. */
function bucketValue(root: number, sequence: bigint, inline?: readonly PendingLeafElement[]) {
  const inlineBytes =
    inline === undefined
      ? 0
      : PAGE_HEADER_SIZE +
        inline.reduce((n, e) => n + ELEMENT_SIZE + e.key.length + e.value.length, 0);
  const value = new Uint8Array(BUCKET_HEADER_SIZE + inlineBytes);
  const v = view(value);
  v.setBigUint64(0, BigInt(root), true);
  v.setBigUint64(8, sequence, true);
  if (inline !== undefined) {
    const page = value.subarray(BUCKET_HEADER_SIZE);
    writePageHeader(page, { id: 0n, flags: PageFlag.leaf, count: inline.length, overflow: 0 });
    writeLeafElements(page, inline);
  }
  return value;
}

function checkPageSize(pageSize: number): void {
  if (
    !Number.isInteger(pageSize) ||
    pageSize < 1024 ||
    pageSize > 65536 ||
    (pageSize & (pageSize - 1)) !== 0
  )
    throw new BoltError(`invalid page size ${pageSize}`);
}

function sortedBuckets(buckets: readonly BoltBucketInput[]): BoltBucketInput[] {
  const sorted = [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));
  for (let i = 0; i < sorted.length; i++) {
    const name = sorted[i]!.name;
    if (name.length === 0) throw new BoltError('bucket name required');
    if (name.length > MAX_KEY_SIZE) throw new BoltError('bucket name too large');
    if (i > 0 && Buffer.compare(sorted[i - 1]!.name, name) === 0)
      throw new BoltError(`bucket ${Buffer.from(name).toString()} given twice`);
  }
  return sorted;
}

/** Checks one entry against bbolt's limits and the order of the one before it. */
function checkEntry(
  bucket: Uint8Array,
  previous: Uint8Array | undefined,
  key: Uint8Array,
  value: Uint8Array,
) {
  if (key.length === 0) throw new BoltError(`bucket ${Buffer.from(bucket)}: key required`);
  if (key.length > MAX_KEY_SIZE)
    throw new BoltError(`bucket ${Buffer.from(bucket)}: key too large`);
  if (value.length > MAX_VALUE_SIZE)
    throw new BoltError(`bucket ${Buffer.from(bucket)}: value too large`);
  if (previous !== undefined && Buffer.compare(previous, key) >= 0)
    throw new BoltError(
      `bucket ${Buffer.from(bucket)}: keys not in ascending order at ${Buffer.from(key).toString('hex')}`,
    );
}

/**
 * Lays out the file {@link writeBolt} writes for `buckets`: one pass over every entry,
 * no page bytes built. Throws BoltError on unsorted or oversized keys.
 */
export function boltLayout(
  buckets: readonly BoltBucketInput[],
  options: BoltWriteOptions = {},
): BoltLayout {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  checkPageSize(pageSize);
  const sorted = sortedBuckets(buckets);
  const alloc = new PageAllocator(FIRST_DATA_PGID);
  const inline: boolean[] = [];
  const rootEntries: { nameLength: number; valueLength: number }[] = [];
  for (const b of sorted) {
    const mark = alloc.next;
    const tree = new TreeBuilder(pageSize, alloc, undefined);
    let bytes = PAGE_HEADER_SIZE;
    let previous: Uint8Array | undefined;
    for (const [k, v] of b.entries()) {
      checkEntry(b.name, previous, k, v);
      previous = Uint8Array.from(k);
      tree.add(k, v, 0);
      bytes += ELEMENT_SIZE + k.length + v.length;
    }
    // bbolt keeps a bucket inline when its single leaf fits in a quarter page.
    const isInline = bytes <= pageSize / 4;
    if (isInline) alloc.next = mark;
    else tree.finish();
    inline.push(isInline);
    rootEntries.push({
      nameLength: b.name.length,
      valueLength: BUCKET_HEADER_SIZE + (isInline ? bytes : 0),
    });
  }
  const rootTree = new TreeBuilder(pageSize, alloc, undefined);
  for (const e of rootEntries)
    rootTree.add(lengthOnly(e.nameLength), lengthOnly(e.valueLength), BUCKET_LEAF_FLAG);
  const root = rootTree.finish();
  return { pageSize, pages: alloc.next, size: alloc.next * pageSize, root, inline };
}

/**
 * Writes a new, compact bbolt database holding `buckets` (top-level buckets of key/value
 * pairs, as etcd keeps them), as a stream of chunks in file order: the two meta pages and
 * an empty freelist first, then each bucket's pages (leaves packed full, branches above),
 * then the root bucket's. A first pass over the entries lays the file out, so the meta
 * pages at the front can name the root and the high-water mark; memory stays bounded by
 * a chunk plus one page per tree level, whatever the size of the data.
 * bbolt (and so etcd, `etcdctl snapshot status/restore`) opens the result like a file it
 * wrote itself, and `bbolt check` finds every page in use exactly once.
 */
export function* writeBolt(
  buckets: readonly BoltBucketInput[],
  options: BoltWriteOptions = {},
): Generator<Uint8Array> {
  const layout = boltLayout(buckets, options);
  options.onSize?.(layout.size);
  const { pageSize } = layout;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const sorted = sortedBuckets(buckets);

  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const sink = (page: Uint8Array) => {
    pending.push(page);
    pendingBytes += page.length;
  };
  const take = (): Uint8Array => {
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return chunk;
  };

  for (const id of [0, 1] as const) {
    sink(
      encodeMetaPage(id, {
        pageSize,
        flags: 0,
        root: BigInt(layout.root),
        sequence: 0n,
        freelist: BigInt(FREELIST_PGID),
        pgid: BigInt(layout.pages),
        // A fresh bbolt file's metas carry transactions 0 and 1; the second wins.
        txid: BigInt(id),
      }),
    );
  }
  const freelist = new Uint8Array(pageSize);
  writePageHeader(freelist, {
    id: BigInt(FREELIST_PGID),
    flags: PageFlag.freelist,
    count: 0,
    overflow: 0,
  });
  sink(freelist);

  const alloc = new PageAllocator(FIRST_DATA_PGID);
  const rootElements: PendingLeafElement[] = [];
  for (const [i, b] of sorted.entries()) {
    const sequence = b.sequence ?? 0n;
    if (layout.inline[i]) {
      const elements: PendingLeafElement[] = [];
      for (const [k, v] of b.entries())
        elements.push({ key: Uint8Array.from(k), value: Uint8Array.from(v), flags: 0 });
      rootElements.push({
        key: b.name,
        value: bucketValue(0, sequence, elements),
        flags: BUCKET_LEAF_FLAG,
      });
      continue;
    }
    const tree = new TreeBuilder(pageSize, alloc, sink);
    for (const [k, v] of b.entries()) {
      tree.add(k, v, 0);
      if (pendingBytes >= chunkBytes) yield take();
    }
    rootElements.push({
      key: b.name,
      value: bucketValue(tree.finish(), sequence),
      flags: BUCKET_LEAF_FLAG,
    });
  }
  const root = new TreeBuilder(pageSize, alloc, sink);
  for (const e of rootElements) root.add(e.key, e.value, e.flags);
  const rootPgid = root.finish();
  if (rootPgid !== layout.root || alloc.next !== layout.pages)
    throw new BoltError('the buckets changed between the layout and the write passes');
  yield take();
}

/** {@link writeBolt}'s file as one buffer (small databases, tests). */
export function writeBoltBytes(
  buckets: readonly BoltBucketInput[],
  options: BoltWriteOptions = {},
): Uint8Array {
  return Buffer.concat([...writeBolt(buckets, options)]);
}

/** Buckets from arrays already in memory, in the shape {@link writeBolt} takes. */
export function bucketsFromEntries(
  buckets: Iterable<{
    name: Uint8Array | string;
    sequence?: bigint;
    entries: readonly (readonly [Uint8Array, Uint8Array])[];
  }>,
): BoltBucketInput[] {
  return [...buckets].map((b) => {
    const input: BoltBucketInput = {
      name: typeof b.name === 'string' ? Buffer.from(b.name) : b.name,
      entries: () => b.entries,
    };
    if (b.sequence !== undefined) input.sequence = b.sequence;
    return input;
  });
}

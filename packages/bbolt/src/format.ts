// bbolt's on-disk layout (go.etcd.io/bbolt, file format version 2). Every page starts with
// a 16-byte header: page id (u64), flags (u16), element count (u16), overflow pages (u32).
// All integers are little-endian, as bbolt writes them on the platforms etcd runs on.

/** bbolt's magic number, in every meta page right after the page header (file offset 16). */
export const BOLT_MAGIC = 0xed0cdaed;
/** The data file format version bbolt writes and reads. */
export const BOLT_VERSION = 2;
/** The page size etcd's bbolt uses on x86-64 and arm64 (os.Getpagesize()). */
export const DEFAULT_PAGE_SIZE = 4096;

export const PAGE_HEADER_SIZE = 16;
/** Leaf element: flags u32, pos u32, ksize u32, vsize u32; branch: pos u32, ksize u32, pgid u64. */
export const ELEMENT_SIZE = 16;
/** A bucket's header in its parent's leaf value: root page id (0 when inline), sequence. */
export const BUCKET_HEADER_SIZE = 16;
/** bbolt's MaxKeySize and MaxValueSize. */
export const MAX_KEY_SIZE = 32768;
export const MAX_VALUE_SIZE = 2 ** 31 - 2;
/** The meta page's fields before the checksum (which covers them). */
const META_CHECKSUMMED_BYTES = 56;
/** meta.freelist when the freelist is not stored (bbolt's NoFreelistSync). */
export const PGID_NO_FREELIST = 0xffff_ffff_ffff_ffffn;

export const PageFlag = {
  branch: 0x01,
  leaf: 0x02,
  meta: 0x04,
  freelist: 0x10,
} as const;

/** A leaf element whose value is a nested bucket (header, maybe followed by an inline page). */
export const BUCKET_LEAF_FLAG = 0x01;

export interface PageHeader {
  id: bigint;
  flags: number;
  count: number;
  overflow: number;
}

export function readPageHeader(buf: Uint8Array, offset = 0): PageHeader {
  const v = view(buf);
  return {
    id: v.getBigUint64(offset, true),
    flags: v.getUint16(offset + 8, true),
    count: v.getUint16(offset + 10, true),
    overflow: v.getUint32(offset + 12, true),
  };
}

export function writePageHeader(buf: Uint8Array, h: PageHeader, offset = 0): void {
  const v = view(buf);
  v.setBigUint64(offset, h.id, true);
  v.setUint16(offset + 8, h.flags, true);
  v.setUint16(offset + 10, h.count, true);
  v.setUint32(offset + 12, h.overflow, true);
}

/** One of the two meta pages: where the root bucket, the freelist and the end of the file are. */
export interface Meta {
  pageSize: number;
  flags: number;
  /** The root bucket's root page. */
  root: bigint;
  /** The root bucket's sequence (unused by etcd). */
  sequence: bigint;
  /** The freelist's page, or PGID_NO_FREELIST. */
  freelist: bigint;
  /** The high-water mark: pages below it are in use or free; the file's logical size. */
  pgid: bigint;
  /** The transaction that wrote this meta; the valid meta with the higher txid wins. */
  txid: bigint;
}

/** FNV-1a, 64 bits: bbolt's meta checksum. */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

/** Why a meta page was rejected (bbolt's ErrInvalid, ErrVersionMismatch, ErrChecksum). */
export type MetaProblem = 'invalid' | 'version mismatch' | 'checksum error';

/** Decodes the meta at the start of `page` (a page image, header included). */
export function decodeMeta(page: Uint8Array): Meta | MetaProblem {
  if (page.length < PAGE_HEADER_SIZE + META_CHECKSUMMED_BYTES + 8) return 'invalid';
  const v = view(page);
  const m = PAGE_HEADER_SIZE;
  if (v.getUint32(m, true) !== BOLT_MAGIC) return 'invalid';
  if (v.getUint32(m + 4, true) !== BOLT_VERSION) return 'version mismatch';
  const sum = v.getBigUint64(m + META_CHECKSUMMED_BYTES, true);
  if (fnv64a(page.subarray(m, m + META_CHECKSUMMED_BYTES)) !== sum) return 'checksum error';
  return {
    pageSize: v.getUint32(m + 8, true),
    flags: v.getUint32(m + 12, true),
    root: v.getBigUint64(m + 16, true),
    sequence: v.getBigUint64(m + 24, true),
    freelist: v.getBigUint64(m + 32, true),
    pgid: v.getBigUint64(m + 40, true),
    txid: v.getBigUint64(m + 48, true),
  };
}

/** A whole meta page (`pageSize` bytes) for page `id` (0 or 1), checksum included. */
export function encodeMetaPage(id: 0 | 1, meta: Meta): Uint8Array {
  const page = new Uint8Array(meta.pageSize);
  writePageHeader(page, { id: BigInt(id), flags: PageFlag.meta, count: 0, overflow: 0 });
  const v = view(page);
  const m = PAGE_HEADER_SIZE;
  v.setUint32(m, BOLT_MAGIC, true);
  v.setUint32(m + 4, BOLT_VERSION, true);
  v.setUint32(m + 8, meta.pageSize, true);
  v.setUint32(m + 12, meta.flags, true);
  v.setBigUint64(m + 16, meta.root, true);
  v.setBigUint64(m + 24, meta.sequence, true);
  v.setBigUint64(m + 32, meta.freelist, true);
  v.setBigUint64(m + 40, meta.pgid, true);
  v.setBigUint64(m + 48, meta.txid, true);
  v.setBigUint64(
    m + META_CHECKSUMMED_BYTES,
    fnv64a(page.subarray(m, m + META_CHECKSUMMED_BYTES)),
    true,
  );
  return page;
}

export function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Whether `head` (the first 20+ bytes of a file) starts like a bbolt database. */
export function hasBoltMagic(head: Uint8Array): boolean {
  return head.length >= 20 && view(head).getUint32(PAGE_HEADER_SIZE, true) === BOLT_MAGIC;
}

export class BoltError extends Error {
  constructor(message: string) {
    super(`bbolt: ${message}`);
    this.name = 'BoltError';
  }
}

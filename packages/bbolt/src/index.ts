/**
 * @etcd-ts/bbolt: bbolt's on-disk format, the file etcd keeps its backend in and what
 * `etcdctl snapshot save` writes. A reader (meta pages with their checksums, the valid
 * newer meta, branch/leaf/overflow pages, inline buckets, a `bbolt check`-style checker)
 * and a streaming writer of compact databases from top-level buckets of sorted entries.
 * A leaf library: it depends on nothing else of etcd-ts.
 */
export {
  BOLT_MAGIC,
  BOLT_VERSION,
  BoltError,
  DEFAULT_PAGE_SIZE,
  fnv64a,
  hasBoltMagic,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  type Meta,
  type MetaProblem,
  PGID_NO_FREELIST,
} from './format.js';
export {
  BoltBucket,
  type BoltEntry,
  BoltReader,
  bufferSource,
  fileSource,
  isBoltFile,
  type PageSource,
} from './reader.js';
export {
  type BoltBucketInput,
  type BoltLayout,
  type BoltWriteOptions,
  boltLayout,
  bucketsFromEntries,
  writeBolt,
  writeBoltBytes,
} from './writer.js';

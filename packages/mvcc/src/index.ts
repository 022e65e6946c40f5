/**
 * @etcd-ts/mvcc: etcd's multi-version key-value store.
 */
export { decodeKeyValue, encodeKeyValue, type KeyValue, keyValueSize } from './codec.js';
export * from './errors.js';
export { type Generation, KeyIndex, type KeyIndexGet } from './key_index.js';
export {
  bytesToRev,
  isTombstone,
  MARKED_REV_BYTES_LEN,
  REV_BYTES_LEN,
  type Revision,
  revToBytes,
} from './revision.js';
export { compareBinary, type IndexHit, TreeIndex } from './tree_index.js';

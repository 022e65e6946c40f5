/**
 * @etcd-ts/mvcc: etcd's multi-version key-value store — revisions, the in-memory key
 * index, reads over history, write transactions, compaction, hashing, the server's
 * Range/Put/DeleteRange/Txn appliers on the wire types, and the watchable store.
 */
export {
  type ApplyTxnOptions,
  applyCompare,
  applyDeleteRange,
  applyDeleteRangeInTxn,
  applyPut,
  applyPutInTxn,
  applyRange,
  applyTxn,
  DEFAULT_MAX_TXN_OPS,
  header,
  validateTxnRequest,
} from './apply.js';
export { decodeKeyValue, encodeKeyValue, type KeyValue, keyValueSize } from './codec.js';
export * from './errors.js';
export { type Generation, KeyIndex, type KeyIndexGet } from './key_index.js';
export {
  DEFAULT_COMPACTION_BATCH_LIMIT,
  DEFAULT_COMPACTION_SLEEP_INTERVAL_MS,
  type HashKVResult,
  KEY_BUCKET,
  KVStore,
  type LeaseLinker,
  META_BUCKET,
  type RangeOptions,
  type RangeResult,
  rangeEndToIndex,
  type StoreConfig,
  type TxnRead,
  type TxnWrite,
} from './kvstore.js';
export {
  bytesToRev,
  isTombstone,
  MARKED_REV_BYTES_LEN,
  REV_BYTES_LEN,
  type Revision,
  revToBytes,
} from './revision.js';
export { compareBinary, type IndexHit, TreeIndex } from './tree_index.js';

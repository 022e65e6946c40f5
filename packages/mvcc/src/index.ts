/**
 * @etcd-ts/mvcc: etcd's multi-version key-value store — revisions, the in-memory key
 * index, reads over history, write transactions, compaction, hashing, and the watchable
 * store.
 */
export { decodeKeyValue, encodeKeyValue, type KeyValue, keyValueSize } from './codec.js';
export * from './errors.js';
export { IntervalTree } from './interval_tree.js';
export { type Generation, KeyIndex, type KeyIndexGet } from './key_index.js';
export {
  DEFAULT_COMPACTION_BATCH_LIMIT,
  DEFAULT_COMPACTION_SLEEP_INTERVAL_MS,
  type HashKVResult,
  KEY_BUCKET,
  KVStore,
  type LeaseLinker,
  META_BUCKET,
  PARALLEL_RESTORE_BYTES,
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
export {
  AUTO_WATCH_ID,
  DEFAULT_WATCH_CHANNEL_CAPACITY,
  DuplicateWatchIdError,
  EmptyWatcherRangeError,
  eventSize,
  fragmentEvents,
  INVALID_WATCH_ID,
  WatcherNotExistError,
  WatchFilterType,
  type WatchOptions,
  WatchStream,
  WatchStreamClosedError,
  type WatchStreamOptions,
} from './watch_stream.js';
export {
  DEFAULT_SYNC_BATCH_ENTRIES,
  DEFAULT_SYNC_INTERVAL_MS,
  DEFAULT_VICTIM_INTERVAL_MS,
  MAX_WATCHERS_PER_SYNC,
  SYNC_BATCH_BYTES,
  WatchableStore,
  type WatchableStoreConfig,
} from './watchable_store.js';
export {
  type Event,
  type EventFilter,
  WATCH_BATCH_MAX_BYTES,
  WATCH_BATCH_MAX_REVS,
  type WatchResponse,
} from './watcher_group.js';

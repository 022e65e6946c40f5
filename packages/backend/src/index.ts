/**
 * @etcd-ts/backend: etcd's transactional on-disk store on LMDB (named databases as
 * bbolt's buckets, a batched write transaction with a read buffer, consistent snapshots,
 * defragmentation, hashing and the backend quota).
 */
export {
  Backend,
  type BackendConfig,
  type BatchTx,
  DEFAULT_BATCH_INTERVAL_MS,
  DEFAULT_BATCH_LIMIT,
  DEFAULT_HASH_IGNORES,
  DEFAULT_MAP_SIZE,
  type HashIgnore,
  KeyTooLargeError,
  MAX_BUCKETS,
  MAX_KEY_BYTES,
  type PreCommitHook,
  type RangeResult,
  type ReadTx,
} from './backend.js';
export {
  type BoltImport,
  boltSnapshotFormat,
  convertBolt,
  importBoltDb,
  isBoltFile,
  restoreFromBolt,
} from './bolt.js';
export { Bucket, type BucketName, ETCD_BUCKETS } from './buckets.js';
export { type BackendLogger, noopLogger } from './logger.js';
export {
  BackendQuota,
  costPut,
  DEFAULT_QUOTA_BYTES,
  KV_OVERHEAD_BYTES,
  LEASE_OVERHEAD_BYTES,
  MAX_QUOTA_BYTES,
  type SizedBackend,
} from './quota.js';
export { BackendSnapshot, type SnapshotFormat } from './snapshot.js';

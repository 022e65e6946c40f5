/**
 * @etcd-ts/lease: etcd's lessor — leases granted, revoked, renewed and checkpointed
 * through consensus, counted down only by the primary (the raft leader's lessor), expired
 * at a bounded rate for the server to revoke, and persisted in the backend's lease bucket.
 */
export { BoundedChannel } from './channel.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export {
  LeaseError,
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseTTLTooLargeError,
  NotPrimaryError,
} from './errors.js';
export { FOREVER, Lease, type LeaseItem } from './lease.js';
export {
  bytesToLeaseId,
  type Checkpointer,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_EXPIRED_LEASES_RETRY_INTERVAL_MS,
  DEFAULT_LEASE_CHECKPOINT_RATE,
  DEFAULT_LEASE_REVOKE_RATE,
  EXPIRED_LEASES_CHANNEL_CAPACITY,
  FOREVER_TTL_SECONDS,
  LESSOR_TICK_INTERVAL_MS,
  type LeaseTimeToLive,
  Lessor,
  type LessorBackend,
  type LessorConfig,
  type LessorLogger,
  leaseIdToBytes,
  MAX_LEASE_CHECKPOINT_BATCH_SIZE,
  MAX_LEASE_TTL,
  minLeaseTTL,
  NO_LEASE,
  type RangeDeleter,
  type TxnDelete,
} from './lessor.js';

/**
 * @etcd-ts/client3: an etcd v3 client for Node.js with clientv3's semantics.
 */
export { Auth, type PermissionType } from './auth.js';
export { type Bytes, FROM_KEY, prefixEnd, toBytes, toText } from './bytes.js';
export { Client, type ClientOptions, Namespace } from './client.js';
export { Cluster } from './cluster.js';
export {
  DEFAULT_SESSION_TTL,
  Election,
  ErrElectionNoLeader,
  ErrElectionNotLeader,
  ErrLocked,
  ErrSessionExpired,
  type Isolation,
  Mutex,
  runSTM,
  Session,
  type STM,
} from './concurrency.js';
export {
  type CallFailure,
  type CallOptions,
  DEFAULT_DIAL_TIMEOUT_MS,
  DEFAULT_MAX_CALL_RECV_MSG_SIZE,
  DEFAULT_MAX_CALL_SEND_MSG_SIZE,
  type KeepAliveOptions,
  MAX_CALL_ATTEMPTS,
  parseEndpoint,
  REQUIRE_LEADER_METADATA_KEY,
  type TLSOptions,
  TOKEN_METADATA_KEY,
} from './connection.js';
export * from './errors.js';
export {
  type Compare,
  type CompareOperator,
  compare,
  type DeleteOptions,
  type GetOptions,
  KV,
  type Op,
  op,
  type PutOptions,
  type RangeOptions,
  type SortOrder,
  type SortTarget,
  Txn,
} from './kv.js';
export { KEEPALIVE_TICK_MS, Lease, LeaseKeepAlive } from './lease.js';
export { type AlarmName, Maintenance } from './maintenance.js';
export {
  INVALID_WATCH_ID,
  MAX_BUFFERED_WATCH_RESPONSES,
  Watcher,
  type WatchOptions,
  type WatchResponse,
} from './watch.js';

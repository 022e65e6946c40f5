/**
 * @etcd-ts/server: an etcd member — bootstrap and restart from a data dir, the raft loop
 * (WAL, snapshots, apply), proposals and linearizable reads, and etcd's v3 gRPC services.
 */

/** Go's duration syntax (`10m0s`, `1.5h`, `300ms`), for etcd's duration flags. */
export { parseGoDuration } from '@etcd-ts/auth';
export { AlarmStore, alarmString } from './alarms.js';
export type { ApplyResult, AuthApplier, LeaseApplier } from './apply.js';
export { authApplier, authInfoFromCall, type CallIdentity, rootHeader } from './auth.js';
export {
  AutoCompactor,
  type Compactable,
  parseRetention,
  REVISION_COMPACT_INTERVAL_MS,
} from './compactor.js';
export * from './config.js';
export {
  type ClientTLSConfig,
  type EmbedConfig,
  type EmbedPlugins,
  type Etcd,
  grpcServerOptions,
  startEtcd,
} from './embed.js';
export { Errors, EtcdServerError, toGrpcError } from './errors.js';
export { authService } from './grpc/auth.js';
export { clusterService } from './grpc/cluster.js';
export { healthService } from './grpc/health.js';
export { type KVAuthorizer, kvService } from './grpc/kv.js';
export { leaseService } from './grpc/lease.js';
export { maintenanceService, SNAPSHOT_SEND_BUFFER_BYTES } from './grpc/maintenance.js';
export { unary } from './grpc/util.js';
export { type WatchAuthorizer, watchService } from './grpc/watch.js';
export { computeClusterId, computeMemberId, hexToId, idToHex, RequestIdGenerator } from './ids.js';
export { leaseApplier } from './lease.js';
export {
  checkUrl,
  type Member,
  memberFromJson,
  memberToJson,
  parseInitialCluster,
  RaftCluster,
} from './membership.js';
export {
  EtcdServer,
  MAX_GAP_BETWEEN_APPLY_AND_COMMIT,
  type ServerPlugins,
  type Transport,
} from './server.js';
export { Wait } from './wait.js';

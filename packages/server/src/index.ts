/**
 * @etcd-ts/server: an etcd member — bootstrap and restart from a data dir, the raft loop
 * (WAL, snapshots, apply), proposals and linearizable reads, the typed v3 API and etcd's
 * v3 gRPC services on it.
 */

/** Go's duration syntax (`10m0s`, `1.5h`, `300ms`), for etcd's duration flags. */
export { parseGoDuration } from '@etcd-ts/auth';
export { AlarmStore, alarmString } from './alarms.js';
export type { ApplyResult } from './apply/applier.js';
export {
  DEFAULT_MAX_TXN_OPS,
  isTxnReadOnly,
  requestCost,
  validateTxnRequest,
} from './apply/txn.js';
export { type Clock, realClock, type Timer } from './clock.js';
export {
  AutoCompactor,
  type Compactable,
  parseRetention,
  REVISION_COMPACT_INTERVAL_MS,
} from './compactor.js';
export * from './config.js';
export {
  type ClientTLSConfig,
  DEFAULT_GRPC_KEEPALIVE_INTERVAL_MS,
  DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  type EmbedConfig,
  type EmbedPlugins,
  type Etcd,
  grpcServerOptions,
  resolveTls,
  startEtcd,
} from './embed.js';
export { Errors, EtcdServerError, toGrpcError } from './errors.js';
export { authService } from './grpc/auth.js';
export { AUTH_TOKEN_WAIT_MS, type CallerOf, type CallIdentity, callerOf } from './grpc/caller.js';
export { clusterService } from './grpc/cluster.js';
export { healthService } from './grpc/health.js';
export { kvService } from './grpc/kv.js';
export { leaseService } from './grpc/lease.js';
export { maintenanceService } from './grpc/maintenance.js';
export { unary } from './grpc/util.js';
export { watchService } from './grpc/watch.js';
export { computeClusterId, computeMemberId, hexToId, idToHex, RequestIdGenerator } from './ids.js';
export { InvariantError } from './invariant.js';
export {
  checkUrl,
  type Member,
  memberFromJson,
  memberToJson,
  parseInitialCluster,
  RaftCluster,
} from './membership.js';
export { MAX_GAP_BETWEEN_APPLY_AND_COMMIT, type Proposed } from './proposals.js';
export type { RaftResponses } from './responses.js';
export { EtcdServer, type ServerPlugins } from './server.js';
export {
  checkCertSAN,
  GO_CIPHER_SUITES,
  opensslCiphers,
  revokedSerials,
  type SelfCertResult,
  type ServerTLSInfo,
  selfCert,
  type TLSProtocolConfig,
  type TLSVersionName,
  validateTLSProtocol,
} from './tls.js';
export { anonymous, type Caller, callerAs } from './v3/caller.js';
export { V3Server } from './v3/index.js';
export { SNAPSHOT_SEND_BUFFER_BYTES } from './v3/maintenance.js';
export { Wait } from './wait.js';

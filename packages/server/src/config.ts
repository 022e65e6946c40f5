import type { TLSProtocolConfig } from './tls.js';

/** Structured logger the server writes to (pino's call shape: fields first, then message). */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** The server version Status reports, and the cluster version a new cluster starts at. */
export const SERVER_VERSION = '3.5.0';
export const CLUSTER_VERSION = '3.5.0';
/** The oldest cluster version this member can join (what etcd 3.5 announces to peers). */
export const MIN_CLUSTER_VERSION = '3.0.0';

/** etcd's defaults (embed/config.go). */
export const DEFAULT_HEARTBEAT_MS = 100;
export const DEFAULT_ELECTION_MS = 1000;
export const DEFAULT_SNAPSHOT_COUNT = 100_000;
/** Raft entries kept behind a snapshot so a slow follower can catch up without one. */
export const DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES = 5_000;
export const DEFAULT_MAX_WALS = 5;
export const DEFAULT_MAX_SNAPSHOTS = 5;
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;
/** gRPC framing headroom etcd adds to max-request-bytes for the receive limit. */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
export const DEFAULT_MAX_TXN_OPS = 128;
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 ** 3;
/** Read requests that wait for one ReadIndex round, at most (etcd batches them all). */
export const READ_INDEX_RETRY_MS = 500;

export type AutoCompactionMode = 'periodic' | 'revision';

/**
 * Peer TLS (etcd's --peer-cert-file, --peer-key-file, --peer-trusted-ca-file,
 * --peer-client-cert-auth, --peer-cert-allowed-cn): the certificate this member presents
 * to its peers both as a server and as a client, and how it checks theirs.
 */
export interface PeerTLSConfig extends TLSProtocolConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  /** Only peers whose certificate has this common name may connect. */
  allowedCN?: string;
  /** etcd's --peer-cert-allowed-hostname: only peers whose certificate is valid for this host. */
  allowedHostname?: string;
  /** etcd's --peer-crl-file: peers whose certificate serial it revokes are refused. */
  crlFile?: string;
  /**
   * etcd's --experimental-peer-skip-client-san-verification: by default a peer's client
   * certificate must name (in its SANs) the address it connects from.
   */
  skipClientSanVerify?: boolean;
  /** etcd 3.5's --peer-client-cert-file/--peer-client-key-file: presented when dialing peers. */
  clientCertFile?: string;
  clientKeyFile?: string;
  /**
   * A certificate made by --peer-auto-tls: peers dial each other without verifying the
   * certificate, as etcd does with self-signed certificates.
   */
  selfSigned?: boolean;
}

export interface ServerConfig {
  name: string;
  dataDir: string;
  /** name -> peer URLs, as parsed from --initial-cluster. */
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  initialAdvertisePeerUrls: string[];
  advertiseClientUrls: string[];
  peerTls?: PeerTLSConfig;
  heartbeatMs: number;
  electionMs: number;
  /**
   * etcd's --initial-election-tick-advance: a (re)started member fast-forwards its election
   * ticks so it campaigns after one heartbeat interval when it is alone or no leader speaks.
   */
  initialElectionTickAdvance: boolean;
  /** etcd's --pre-vote: a candidate first asks whether it could win (3.5's default: on). */
  preVote: boolean;
  /** etcd's --strict-reconfig-check: refuse a voting change that would lose the quorum. */
  strictReconfigCheck: boolean;
  /** etcd's --force-new-cluster: restart as a one-member cluster, keeping the data. */
  forceNewCluster: boolean;
  /** etcd's --experimental-initial-corrupt-check: compare KV hashes with the peers at start. */
  initialCorruptCheck: boolean;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
  maxWals: number;
  maxSnapshots: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  /** 0: the default (2 GiB); negative: no quota. */
  quotaBackendBytes: number;
  autoCompactionMode: AutoCompactionMode;
  /** '0' disables; periodic: a duration ('1h', '30m') or hours as a number; revision: a count. */
  autoCompactionRetention: string;
  unsafeNoFsync: boolean;
  /** etcd's --auth-token: 'simple' or 'jwt,pub-key=...,priv-key=...,sign-method=...'. */
  authToken: string;
  /** etcd's --auth-token-ttl in seconds (simple tokens). */
  authTokenTtl: number;
  /** etcd's --bcrypt-cost. */
  bcryptCost: number;
  /**
   * How often watchers that asked for progress notifications get one (etcd's
   * --experimental-watch-progress-notify-interval, 10 minutes by default).
   */
  watchProgressNotifyIntervalMs: number;
  /** Backend batch commit interval (ms) and operation limit. */
  backendBatchInterval: number;
  backendBatchLimit: number;
  logger: Logger;
}

export function defaultServerConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const name = overrides.name ?? 'default';
  const peer = overrides.initialAdvertisePeerUrls ?? ['http://localhost:2380'];
  return {
    name,
    dataDir: `${name}.etcd`,
    initialCluster: new Map([[name, peer]]),
    initialClusterState: 'new',
    initialClusterToken: 'etcd-cluster',
    initialAdvertisePeerUrls: peer,
    advertiseClientUrls: ['http://localhost:2379'],
    heartbeatMs: DEFAULT_HEARTBEAT_MS,
    electionMs: DEFAULT_ELECTION_MS,
    initialElectionTickAdvance: true,
    preVote: true,
    strictReconfigCheck: true,
    forceNewCluster: false,
    initialCorruptCheck: false,
    snapshotCount: DEFAULT_SNAPSHOT_COUNT,
    snapshotCatchUpEntries: DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES,
    maxWals: DEFAULT_MAX_WALS,
    maxSnapshots: DEFAULT_MAX_SNAPSHOTS,
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
    maxTxnOps: DEFAULT_MAX_TXN_OPS,
    quotaBackendBytes: 0,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '0',
    unsafeNoFsync: false,
    authToken: 'simple',
    authTokenTtl: 300,
    bcryptCost: 10,
    watchProgressNotifyIntervalMs: PROGRESS_REPORT_INTERVAL_MS,
    backendBatchInterval: 100,
    backendBatchLimit: 10_000,
    logger: silentLogger,
    ...overrides,
  };
}

/** etcd's default progressReportInterval: how often watchers that asked for it get progress. */
export const PROGRESS_REPORT_INTERVAL_MS = 10 * 60 * 1000;

/** etcd's request timeout: 5 s plus twice the election timeout. */
export function requestTimeoutMs(cfg: Pick<ServerConfig, 'electionMs'>): number {
  return 5000 + 2 * cfg.electionMs;
}

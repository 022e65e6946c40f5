import fs from 'node:fs';
import {
  type AutoCompactionMode,
  checkUrl,
  DEFAULT_ELECTION_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_REQUEST_BYTES,
  DEFAULT_MAX_SNAPSHOTS,
  DEFAULT_MAX_TXN_OPS,
  DEFAULT_MAX_WALS,
  DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES,
  DEFAULT_SNAPSHOT_COUNT,
  defaultServerConfig,
  type EmbedConfig,
  type PeerTLSConfig,
  parseGoDuration,
  parseInitialCluster,
  parseRetention,
  type TLSProtocolConfig,
  type TLSVersionName,
  validateTLSProtocol,
} from '@etcd-ts/server';
import YAML from 'yaml';

/** How etcd parses a flag's value (Go's flag package and etcd's pkg/flags). */
export type FlagKind = 'string' | 'uint' | 'uint32' | 'int' | 'bool' | 'duration';

/** Where etcd's `--help` lists a flag: 3.4's, 3.5's, both, or neither (registered only). */
export type FlagRelease = 'both' | '3.4' | '3.5' | 'hidden';

/**
 * One flag of etcd (etcdmain/config.go and help.go of 3.4 and 3.5): its name, kind, the
 * value it has when not given, the default and help as `etcd --help` prints them, and the
 * key of etcd's YAML config file that sets it.
 */
export interface FlagSpec {
  name: string;
  kind: FlagKind;
  /** The value when neither the command line, the environment nor the file sets it. */
  default: string;
  /** The default as etcd's help prints it (when it differs from `default`). */
  shown?: string;
  help: string;
  section: string;
  release: FlagRelease;
  /** The config file key: the flag name unless given; null: the file cannot set it. */
  fileKey?: string | null;
  /** How etcd-ts takes it, for --help and the README (absent: as etcd does). */
  note?: string;
}

const S = {
  member: 'Member',
  clustering: 'Clustering',
  security: 'Security',
  auth: 'Auth',
  profiling: 'Profiling and Monitoring',
  logging: 'Logging',
  tracing: 'Experimental distributed tracing',
  proxy: 'v2 Proxy (to be deprecated in v3.6)',
  experimental: 'Experimental feature',
  unsafe: 'Unsafe feature',
  deprecated: 'TO BE DEPRECATED',
  other: 'Other',
};

const f = (
  name: string,
  kind: FlagKind,
  def: string,
  section: string,
  release: FlagRelease,
  help: string,
  extra: Partial<FlagSpec> = {},
): FlagSpec => ({ name, kind, default: def, section, release, help, ...extra });

/** Every flag of etcd 3.4 and 3.5, in the order of etcd 3.5's --help. */
export const FLAGS: readonly FlagSpec[] = [
  // Member
  f('name', 'string', 'default', S.member, 'both', 'Human-readable name for this member.'),
  f('data-dir', 'string', '', S.member, 'both', 'Path to the data directory.', {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: etcd prints it so
    shown: '${name}.etcd',
  }),
  f('wal-dir', 'string', '', S.member, 'both', 'Path to the dedicated wal directory.', {
    note: 'refused unless empty: the WAL lives in <data-dir>/member/wal',
  }),
  f(
    'snapshot-count',
    'uint',
    String(DEFAULT_SNAPSHOT_COUNT),
    S.member,
    'both',
    'Number of committed transactions to trigger a snapshot to disk.',
  ),
  f(
    'heartbeat-interval',
    'uint',
    String(DEFAULT_HEARTBEAT_MS),
    S.member,
    'both',
    'Time (in milliseconds) of a heartbeat interval.',
  ),
  f(
    'election-timeout',
    'uint',
    String(DEFAULT_ELECTION_MS),
    S.member,
    'both',
    'Time (in milliseconds) for an election to timeout. See tuning documentation for details.',
  ),
  f(
    'initial-election-tick-advance',
    'bool',
    'true',
    S.member,
    'both',
    'Whether to fast-forward initial election ticks on boot for faster election.',
  ),
  f(
    'listen-peer-urls',
    'string',
    'http://localhost:2380',
    S.member,
    'both',
    'List of URLs to listen on for peer traffic.',
  ),
  f(
    'listen-client-urls',
    'string',
    'http://localhost:2379',
    S.member,
    'both',
    'List of URLs to listen on for client grpc traffic and http as long as --listen-client-http-urls is not specified.',
  ),
  f(
    'listen-client-http-urls',
    'string',
    '',
    S.member,
    '3.5',
    'List of URLs to listen on for http only client traffic. Enabling this flag removes http services from --listen-client-urls.',
    {
      note: 'refused unless empty: etcd-ts serves no HTTP (grpc-gateway, /health, /version) to clients',
    },
  ),
  f(
    'max-snapshots',
    'uint',
    String(DEFAULT_MAX_SNAPSHOTS),
    S.member,
    'both',
    'Maximum number of snapshot files to retain (0 is unlimited).',
  ),
  f(
    'max-wals',
    'uint',
    String(DEFAULT_MAX_WALS),
    S.member,
    'both',
    'Maximum number of wal files to retain (0 is unlimited).',
  ),
  f(
    'quota-backend-bytes',
    'int',
    '0',
    S.member,
    'both',
    'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).',
  ),
  f(
    'backend-bbolt-freelist-type',
    'string',
    'map',
    S.member,
    '3.5',
    'BackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).',
    {
      note: 'accepted with a warning when given: the backend is LMDB, which has no bbolt freelist',
    },
  ),
  f(
    'backend-batch-interval',
    'duration',
    '0s',
    S.member,
    'both',
    'BackendBatchInterval is the maximum time before commit the backend transaction.',
    { shown: '' },
  ),
  f(
    'backend-batch-limit',
    'int',
    '0',
    S.member,
    'both',
    'BackendBatchLimit is the maximum operations before commit the backend transaction.',
  ),
  f(
    'max-txn-ops',
    'uint',
    String(DEFAULT_MAX_TXN_OPS),
    S.member,
    'both',
    'Maximum number of operations permitted in a transaction.',
  ),
  f(
    'max-request-bytes',
    'uint',
    String(DEFAULT_MAX_REQUEST_BYTES),
    S.member,
    'both',
    'Maximum client request size in bytes the server will accept.',
  ),
  f(
    'max-concurrent-streams',
    'uint32',
    String(2 ** 32 - 1),
    S.member,
    'both',
    'Maximum concurrent streams that each client can open at a time.',
    { shown: 'math.MaxUint32' },
  ),
  f('enable-grpc-gateway', 'bool', 'true', S.member, '3.5', 'Enable GRPC gateway.', {
    note: 'refused when given true: etcd-ts serves no grpc-gateway (JSON over HTTP); false is accepted',
  }),
  f(
    'grpc-keepalive-min-time',
    'duration',
    '5s',
    S.member,
    'both',
    'Minimum duration interval that a client should wait before pinging server.',
    { note: 'refused when given: grpc-js cannot refuse clients that ping too often' },
  ),
  f(
    'grpc-keepalive-interval',
    'duration',
    '2h',
    S.member,
    'both',
    'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).',
  ),
  f(
    'grpc-keepalive-timeout',
    'duration',
    '20s',
    S.member,
    'both',
    'Additional duration of wait before closing a non-responsive connection (0 to disable).',
  ),
  f(
    'socket-reuse-port',
    'bool',
    'false',
    S.member,
    '3.5',
    'Enable to set socket option SO_REUSEPORT on listeners allowing rebinding of a port already in use.',
    { note: "refused when true: Node.js 20's listeners cannot set SO_REUSEPORT" },
  ),
  f(
    'socket-reuse-address',
    'bool',
    'false',
    S.member,
    '3.5',
    'Enable to set socket option SO_REUSEADDR on listeners allowing binding to an address in TIME_WAIT state.',
    { note: "accepted: Node.js's listeners always set SO_REUSEADDR" },
  ),
  f(
    'raft-read-timeout',
    'duration',
    '5s',
    S.member,
    '3.5',
    'Read timeout set on each rafthttp connection',
    {
      note: 'up to 5s accepted (etcd raises it to 5s); longer refused: the timeout is fixed at 5s',
    },
  ),
  f(
    'raft-write-timeout',
    'duration',
    '5s',
    S.member,
    '3.5',
    'Write timeout set on each rafthttp connection',
    {
      note: 'up to 5s accepted (etcd raises it to 5s); longer refused: the timeout is fixed at 5s',
    },
  ),

  // Clustering
  f(
    'initial-advertise-peer-urls',
    'string',
    'http://localhost:2380',
    S.clustering,
    'both',
    "List of this member's peer URLs to advertise to the rest of the cluster.",
  ),
  f(
    'initial-cluster',
    'string',
    '',
    S.clustering,
    'both',
    'Initial cluster configuration for bootstrapping.',
    { shown: 'default=http://localhost:2380' },
  ),
  f(
    'initial-cluster-state',
    'string',
    'new',
    S.clustering,
    'both',
    "Initial cluster state ('new' when bootstrapping a new cluster or 'existing' when adding new members to an existing cluster).\nAfter successful initialization (bootstrapping or adding), flag is ignored on restarts.",
  ),
  f(
    'initial-cluster-token',
    'string',
    'etcd-cluster',
    S.clustering,
    'both',
    'Initial cluster token for the etcd cluster during bootstrap.\nSpecifying this can protect you from unintended cross-cluster interaction when running multiple clusters.',
  ),
  f(
    'advertise-client-urls',
    'string',
    'http://localhost:2379',
    S.clustering,
    'both',
    "List of this member's client URLs to advertise to the public.\nThe client URLs advertised should be accessible to machines that talk to etcd cluster. etcd client libraries parse these URLs to connect to the cluster.",
  ),
  f(
    'discovery',
    'string',
    '',
    S.clustering,
    'both',
    'Discovery URL used to bootstrap the cluster.',
    {
      note: 'refused unless empty: bootstrapping through a discovery service is not implemented',
    },
  ),
  f(
    'discovery-fallback',
    'string',
    'proxy',
    S.clustering,
    'both',
    "Expected behavior ('exit' or 'proxy') when discovery services fails.\n\"proxy\" supports v2 API only.",
    { note: 'accepted: only used with --discovery' },
  ),
  f(
    'discovery-proxy',
    'string',
    '',
    S.clustering,
    'both',
    'HTTP proxy to use for traffic to discovery service.',
    { note: 'accepted: only used with --discovery' },
  ),
  f(
    'discovery-srv',
    'string',
    '',
    S.clustering,
    'both',
    'DNS srv domain used to bootstrap the cluster.',
    {
      note: 'refused unless empty: bootstrapping from DNS SRV records is not implemented',
    },
  ),
  f(
    'discovery-srv-name',
    'string',
    '',
    S.clustering,
    'both',
    'Suffix to the dns srv name queried when bootstrapping.',
    { note: 'refused unless empty: bootstrapping from DNS SRV records is not implemented' },
  ),
  f(
    'strict-reconfig-check',
    'bool',
    'true',
    S.clustering,
    'both',
    'Reject reconfiguration requests that would cause quorum loss.',
  ),
  f(
    'pre-vote',
    'bool',
    'true',
    S.clustering,
    'both',
    'Enable to run an additional Raft election phase.',
    {
      note: "etcd 3.5's default (on); etcd 3.4's was off",
    },
  ),
  f(
    'auto-compaction-retention',
    'string',
    '0',
    S.clustering,
    'both',
    'Auto compaction retention length. 0 means disable auto compaction.',
  ),
  f(
    'auto-compaction-mode',
    'string',
    'periodic',
    S.clustering,
    'both',
    "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.",
  ),
  f(
    'enable-v2',
    'bool',
    'false',
    S.clustering,
    'both',
    'Accept etcd V2 client requests. Deprecated and to be decommissioned in v3.6.',
    { note: 'true is accepted with a warning: the v2 API is not served, only v3' },
  ),
  f(
    'v2-deprecation',
    'string',
    'not-yet',
    S.clustering,
    '3.5',
    "Phase of v2store deprecation. Allows to opt-in for higher compatibility mode.\nSupported values:\n  'not-yet'                // Issues a warning if v2store have meaningful content (default in v3.5)\n  'write-only'             // Custom v2 state is not allowed (planned default in v3.6)\n  'write-only-drop-data'   // Custom v2 state will get DELETED !\n  'gone'                   // v2store is not maintained any longer. (planned default in v3.7)",
    { note: 'accepted with a warning when given: etcd-ts keeps no v2 store, so every phase holds' },
  ),

  // Security
  f('cert-file', 'string', '', S.security, 'both', 'Path to the client server TLS cert file.', {
    fileKey: 'client-transport-security.cert-file',
  }),
  f('key-file', 'string', '', S.security, 'both', 'Path to the client server TLS key file.', {
    fileKey: 'client-transport-security.key-file',
  }),
  f('client-cert-auth', 'bool', 'false', S.security, 'both', 'Enable client cert authentication.', {
    fileKey: 'client-transport-security.client-cert-auth',
  }),
  f(
    'client-cert-file',
    'string',
    '',
    S.security,
    '3.5',
    'Path to an explicit peer client TLS cert file otherwise cert file will be used when client auth is required.',
    {
      fileKey: 'client-transport-security.client-cert-file',
      note: 'accepted with a warning: etcd presents it only when dialing its own grpc-gateway, which etcd-ts does not run',
    },
  ),
  f(
    'client-key-file',
    'string',
    '',
    S.security,
    '3.5',
    'Path to an explicit peer client TLS key file otherwise key file will be used when client auth is required.',
    {
      fileKey: 'client-transport-security.client-key-file',
      note: 'accepted with a warning: etcd presents it only when dialing its own grpc-gateway, which etcd-ts does not run',
    },
  ),
  f(
    'client-crl-file',
    'string',
    '',
    S.security,
    'both',
    'Path to the client certificate revocation list file.',
    { fileKey: 'client-transport-security.crl-file' },
  ),
  f(
    'client-cert-allowed-hostname',
    'string',
    '',
    S.security,
    'both',
    'Comma-separated list of SAN hostnames for client cert authentication.',
    { fileKey: 'client-transport-security.allowed-hostname' },
  ),
  f(
    'trusted-ca-file',
    'string',
    '',
    S.security,
    'both',
    'Path to the client server TLS trusted CA cert file.',
    { fileKey: 'client-transport-security.trusted-ca-file' },
  ),
  f('auto-tls', 'bool', 'false', S.security, 'both', 'Client TLS using generated certificates.', {
    fileKey: 'client-transport-security.auto-tls',
  }),
  f('peer-cert-file', 'string', '', S.security, 'both', 'Path to the peer server TLS cert file.', {
    fileKey: 'peer-transport-security.cert-file',
  }),
  f('peer-key-file', 'string', '', S.security, 'both', 'Path to the peer server TLS key file.', {
    fileKey: 'peer-transport-security.key-file',
  }),
  f(
    'peer-client-cert-auth',
    'bool',
    'false',
    S.security,
    'both',
    'Enable peer client cert authentication.',
    { fileKey: 'peer-transport-security.client-cert-auth' },
  ),
  f(
    'peer-trusted-ca-file',
    'string',
    '',
    S.security,
    'both',
    'Path to the peer server TLS trusted CA file.',
    { fileKey: 'peer-transport-security.trusted-ca-file' },
  ),
  f(
    'peer-cert-allowed-cn',
    'string',
    '',
    S.security,
    'both',
    'Comma-separated list of allowed CNs for inter-peer TLS authentication.',
    { fileKey: 'peer-transport-security.allowed-cn' },
  ),
  f(
    'peer-cert-allowed-hostname',
    'string',
    '',
    S.security,
    'both',
    'Comma-separated list of allowed SAN hostnames for inter-peer TLS authentication.',
    { fileKey: 'peer-transport-security.allowed-hostname' },
  ),
  f(
    'peer-auto-tls',
    'bool',
    'false',
    S.security,
    'both',
    'Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.',
    { fileKey: 'peer-transport-security.auto-tls' },
  ),
  f(
    'peer-client-cert-file',
    'string',
    '',
    S.security,
    '3.5',
    'Path to an explicit peer client TLS cert file otherwise peer cert file will be used when client auth is required.',
    { fileKey: 'peer-transport-security.client-cert-file' },
  ),
  f(
    'peer-client-key-file',
    'string',
    '',
    S.security,
    '3.5',
    'Path to an explicit peer client TLS key file otherwise peer key file will be used when client auth is required.',
    { fileKey: 'peer-transport-security.client-key-file' },
  ),
  f(
    'self-signed-cert-validity',
    'uint',
    '1',
    S.security,
    '3.5',
    'The validity period of the client and peer certificates that are automatically generated by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default is 1.',
  ),
  f(
    'peer-crl-file',
    'string',
    '',
    S.security,
    'both',
    'Path to the peer certificate revocation list file.',
    { fileKey: 'peer-transport-security.crl-file' },
  ),
  f(
    'cipher-suites',
    'string',
    '',
    S.security,
    'both',
    'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).',
    { note: "Go's names, mapped to OpenSSL's; empty: Node.js's defaults" },
  ),
  f(
    'cors',
    'string',
    '*',
    S.security,
    'both',
    'Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).',
    {
      note: 'accepted with a warning when not *: it filters HTTP requests, and etcd-ts serves gRPC only',
    },
  ),
  f(
    'host-whitelist',
    'string',
    '*',
    S.security,
    'both',
    'Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).',
    {
      note: 'accepted with a warning when not *: it filters HTTP requests, and etcd-ts serves gRPC only',
    },
  ),
  f(
    'tls-min-version',
    'string',
    'TLS1.2',
    S.security,
    '3.5',
    'Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3.',
  ),
  f(
    'tls-max-version',
    'string',
    '',
    S.security,
    '3.5',
    'Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 (empty will be auto-populated by Go).',
  ),

  // Auth
  f(
    'auth-token',
    'string',
    'simple',
    S.auth,
    'both',
    "Specify a v3 authentication token type and its options ('simple' or 'jwt').",
  ),
  f(
    'bcrypt-cost',
    'uint',
    '10',
    S.auth,
    'both',
    'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.',
  ),
  f('auth-token-ttl', 'uint', '300', S.auth, 'both', 'Time (in seconds) of the auth-token-ttl.'),

  // Profiling and Monitoring
  f(
    'enable-pprof',
    'bool',
    'false',
    S.profiling,
    'both',
    'Enable runtime profiling data via HTTP server. Address is at client URL + "/debug/pprof/"',
    {
      note: "true is accepted with a warning: Go's pprof has no Node.js equivalent served over HTTP",
    },
  ),
  f(
    'metrics',
    'string',
    'basic',
    S.profiling,
    'both',
    "Set level of detail for exported metrics, specify 'extensive' to include server side grpc histogram metrics.",
    { note: 'accepted with a warning when given: no metrics are exported yet' },
  ),
  f(
    'listen-metrics-urls',
    'string',
    '',
    S.profiling,
    'both',
    'List of URLs to listen on for the /metrics and /health endpoints. For https, the client URL TLS info is used.',
    { note: 'refused unless empty: /metrics and /health are not served yet' },
  ),

  // Logging
  f(
    'logger',
    'string',
    'zap',
    S.logging,
    'both',
    "Currently only supports 'zap' for structured logging.",
    {
      note: "'capnslog' (etcd 3.4) is accepted with a warning: logs are zap's JSON lines",
    },
  ),
  f(
    'log-outputs',
    'string',
    'default',
    S.logging,
    'both',
    "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.",
    { note: "'systemd/journal' is refused: log to stderr, which journald captures" },
  ),
  f(
    'log-level',
    'string',
    'info',
    S.logging,
    'both',
    'Configures log level. Only supports debug, info, warn, error, panic, or fatal.',
  ),
  f(
    'enable-log-rotation',
    'bool',
    'false',
    S.logging,
    '3.5',
    'Enable log rotation of a single log-outputs file target.',
    {
      note: 'refused when true: log rotation is not implemented (use logrotate with copytruncate)',
    },
  ),
  f(
    'log-rotation-config-json',
    'string',
    '{"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false}',
    S.logging,
    '3.5',
    'Configures log rotation if enabled with a JSON logger config. MaxSize(MB), MaxAge(days,0=no limit), MaxBackups(0=no limit), LocalTime(use computers local time), Compress(gzip)". ',
    { note: 'accepted: only used with --enable-log-rotation' },
  ),

  // Experimental distributed tracing
  f(
    'experimental-enable-distributed-tracing',
    'bool',
    'false',
    S.tracing,
    '3.5',
    'Enable experimental distributed tracing.',
    {
      note: 'true is accepted with a warning: no spans are exported (OpenTelemetry tracing is not implemented)',
    },
  ),
  f(
    'experimental-distributed-tracing-address',
    'string',
    'localhost:4317',
    S.tracing,
    '3.5',
    'Distributed tracing collector address.',
  ),
  f(
    'experimental-distributed-tracing-service-name',
    'string',
    'etcd',
    S.tracing,
    '3.5',
    'Distributed tracing service name, must be same across all etcd instances.',
  ),
  f(
    'experimental-distributed-tracing-instance-id',
    'string',
    '',
    S.tracing,
    '3.5',
    'Distributed tracing instance ID, must be unique per each etcd instance.',
  ),
  f(
    'experimental-distributed-tracing-sampling-rate',
    'int',
    '0',
    S.tracing,
    '3.5',
    'Number of samples to collect per million spans for distributed tracing. Disabled by default.',
  ),

  // v2 Proxy
  f('proxy', 'string', 'off', S.proxy, 'both', "Proxy mode setting ('off', 'readonly' or 'on').", {
    note: "'on' and 'readonly' are refused: etcd-ts does not run as a v2 proxy",
  }),
  ...(
    [
      [
        'proxy-failure-wait',
        '5000',
        'Time (in milliseconds) an endpoint will be held in a failed state.',
      ],
      [
        'proxy-refresh-interval',
        '30000',
        'Time (in milliseconds) of the endpoints refresh interval.',
      ],
      ['proxy-dial-timeout', '1000', 'Time (in milliseconds) for a dial to timeout.'],
      ['proxy-write-timeout', '5000', 'Time (in milliseconds) for a write to timeout.'],
      ['proxy-read-timeout', '0', 'Time (in milliseconds) for a read to timeout.'],
    ] as const
  ).map(([name, def, help]) =>
    f(name, 'uint', def, S.proxy, 'both', help, {
      note: 'accepted with a warning when given: only the v2 proxy uses it, and etcd-ts does not run as one',
    }),
  ),

  // Experimental feature
  f(
    'experimental-initial-corrupt-check',
    'bool',
    'false',
    S.experimental,
    'both',
    'Enable to check data corruption before serving any client/peer traffic.',
    {},
  ),
  f(
    'experimental-corrupt-check-time',
    'duration',
    '0s',
    S.experimental,
    'both',
    'Duration of time between cluster corruption check passes.',
    {
      note: 'refused unless 0: the periodic corruption check (CORRUPT alarm) is not implemented yet',
    },
  ),
  f(
    'experimental-compact-hash-check-enabled',
    'bool',
    'false',
    S.experimental,
    '3.5',
    'Enable leader to periodically check followers compaction hashes.',
    { note: 'refused when true: the compaction hash check is not implemented yet' },
  ),
  f(
    'experimental-compact-hash-check-time',
    'duration',
    '1m',
    S.experimental,
    '3.5',
    'Duration of time between leader checks followers compaction hashes.',
    { note: 'accepted: only used with --experimental-compact-hash-check-enabled' },
  ),
  f(
    'experimental-enable-v2v3',
    'string',
    '',
    S.experimental,
    'both',
    'Serve v2 requests through the v3 backend under a given prefix. Deprecated and to be decommissioned in v3.6.',
    { note: 'accepted with a warning when given: the v2 API is not served' },
  ),
  f(
    'experimental-backend-bbolt-freelist-type',
    'string',
    'array',
    S.experimental,
    '3.4',
    'ExperimentalBackendFreelistType specifies the type of freelist that boltdb backend uses(array and map are supported types).',
    {
      note: 'accepted with a warning when given: the backend is LMDB, which has no bbolt freelist',
    },
  ),
  f(
    'experimental-enable-lease-checkpoint',
    'bool',
    'false',
    S.experimental,
    'both',
    'ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases.',
    {
      note: 'accepted: the lessor always checkpoints remaining TTLs (and persists them), as etcd 3.6',
    },
  ),
  f(
    'experimental-enable-lease-checkpoint-persist',
    'bool',
    'false',
    S.experimental,
    '3.5',
    'Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. Always enabled in v3.6. Should be used to ensure smooth upgrade from v3.5 clusters with this feature enabled. Requires experimental-enable-lease-checkpoint to be enabled.',
    {
      note: 'accepted (always on); refused without --experimental-enable-lease-checkpoint, as etcd',
    },
  ),
  f(
    'experimental-compaction-batch-limit',
    'int',
    '1000',
    S.experimental,
    'both',
    'ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction batch.',
    { note: "refused unless 1000: compaction batches are fixed at etcd's default" },
  ),
  f(
    'experimental-compaction-sleep-interval',
    'duration',
    '10ms',
    S.experimental,
    '3.5',
    'ExperimentalCompactionSleepInterval sets the sleep interval between each compaction batch.',
    {
      note: "refused unless 10ms: the pause between compaction batches is fixed at etcd's default",
    },
  ),
  f(
    'experimental-peer-skip-client-san-verification',
    'bool',
    'false',
    S.experimental,
    'both',
    'Skip verification of SAN field in client certificate for peer connections.',
  ),
  f(
    'experimental-watch-progress-notify-interval',
    'duration',
    '10m',
    S.experimental,
    'both',
    'Duration of periodical watch progress notification.',
  ),
  f(
    'experimental-downgrade-check-time',
    'duration',
    '5s',
    S.experimental,
    '3.5',
    'Duration of time between two downgrade status checks.',
    { note: 'accepted: etcd-ts refuses downgrades, so there is no downgrade to check' },
  ),
  f(
    'experimental-memory-mlock',
    'bool',
    'false',
    S.experimental,
    '3.5',
    'Enable to enforce etcd pages (in particular bbolt) to stay in RAM.',
    { note: 'refused when true: Node.js cannot mlock the backend pages' },
  ),
  f(
    'experimental-warning-apply-duration',
    'duration',
    '100ms',
    S.experimental,
    'both',
    'Warning is generated if requests take more than this duration.',
    { note: 'accepted with a warning when given: slow applies are not logged yet' },
  ),
  f(
    'experimental-txn-mode-write-with-shared-buffer',
    'bool',
    'true',
    S.experimental,
    '3.5',
    'Enable the write transaction to use a shared buffer in its readonly check operations.',
    { note: 'accepted: a performance switch of bbolt read buffers, which LMDB does not have' },
  ),
  f(
    'experimental-bootstrap-defrag-threshold-megabytes',
    'uint',
    '0',
    S.experimental,
    '3.5',
    'Enable the defrag during etcd server bootstrap on condition that it will free at least the provided threshold of disk space. Needs to be set to non-zero value to take effect.',
    { note: 'refused unless 0: defragmenting at bootstrap is not implemented' },
  ),
  f(
    'experimental-stop-grpc-service-on-defrag',
    'bool',
    'false',
    S.experimental,
    '3.5',
    'Enable etcd gRPC service to stop serving client requests on defragmentation.',
    { note: 'refused when true: the health service does not report defragmentation' },
  ),
  f(
    'experimental-snapshot-catchup-entries',
    'uint',
    String(DEFAULT_SNAPSHOT_CATCH_UP_ENTRIES),
    S.experimental,
    'hidden',
    'Number of entries for a slow follower to catch up after compacting the raft storage entries.',
  ),

  // Unsafe feature
  f(
    'force-new-cluster',
    'bool',
    'false',
    S.unsafe,
    'both',
    'Force to create a new one-member cluster.',
  ),
  f(
    'unsafe-no-fsync',
    'bool',
    'false',
    S.unsafe,
    'both',
    'Disables fsync, unsafe, will cause data loss.',
  ),

  // etcd 3.4's deprecated logging flags
  f(
    'debug',
    'bool',
    'false',
    S.deprecated,
    '3.4',
    "Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use '--log-level=debug' instead.",
  ),
  f(
    'log-package-levels',
    'string',
    '',
    S.deprecated,
    '3.4',
    "Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').",
    { note: 'accepted with a warning when given: only capnslog had per-package levels' },
  ),
  f(
    'log-output',
    'string',
    'default',
    S.deprecated,
    'hidden',
    "[TO BE DEPRECATED IN v3.5] use '--log-outputs'.",
  ),

  // Not in the sections of --help
  f(
    'config-file',
    'string',
    '',
    S.other,
    'hidden',
    'Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.',
    { fileKey: null },
  ),
  f('version', 'bool', 'false', S.other, 'hidden', 'Print the version and exit.', {
    fileKey: null,
  }),
];

/**
 * Flags of etcd 0.4 that etcd 3.x still takes and ignores ("flag %q is no longer supported
 * - ignoring.").
 */
export const IGNORED_FLAGS: readonly string[] = [
  'cluster-active-size',
  'cluster-remove-delay',
  'cluster-sync-interval',
  'config',
  'force',
  'max-result-buffer',
  'max-retry-attempts',
  'peer-heartbeat-interval',
  'peer-election-timeout',
  'retry-interval',
  'snapshot',
  'v',
  'vv',
];

const BY_NAME = new Map(FLAGS.map((s) => [s.name, s]));

/** The value of every flag, and which were set (on the command line, in ETCD_*, in the file). */
export interface ParsedFlags {
  values: Record<string, string>;
  explicit: Set<string>;
  /** What parsing itself has to say (ignored flags, unknown ETCD_* variables). */
  warnings: string[];
}

/** For compatibility with callers that index the values directly. */
export type FlagValues = Record<string, string>;

export class FlagError extends Error {}
export class HelpRequested extends Error {}

/** The environment variable etcd reads for a flag: ETCD_DATA_DIR for --data-dir. */
export function flagToEnv(name: string): string {
  return `ETCD_${name.toUpperCase().replace(/-/g, '_')}`;
}

function goBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** Checks a value against its flag's kind (Go's flag.Value.Set); returns it normalised. */
function setValue(spec: FlagSpec, raw: string, where: string): string {
  const bad = () => new FlagError(`invalid value ${JSON.stringify(raw)} for ${where}: parse error`);
  switch (spec.kind) {
    case 'bool': {
      const b = goBool(raw);
      if (b === undefined) throw bad();
      return String(b);
    }
    case 'uint':
    case 'uint32':
      if (!/^\+?\d+$/.test(raw)) throw bad();
      if (spec.kind === 'uint32' && Number(raw) > 2 ** 32 - 1) throw bad();
      return String(Number(raw));
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) throw bad();
      return String(Number(raw));
    case 'duration':
      try {
        parseGoDuration(raw);
      } catch {
        throw bad();
      }
      return raw;
    default:
      return raw;
  }
}

/**
 * etcd's command line as Go's flag package reads it: -name and --name alike, `--flag value`
 * or `--flag=value`, booleans as `--flag` or `--flag=false`, parsing stops at the first
 * non-flag argument (which etcd then refuses) or after `--`.
 */
function parseArgv(argv: string[]): { set: Map<string, string>; warnings: string[] } {
  const set = new Map<string, string>();
  const warnings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      if (i + 1 < argv.length)
        throw new FlagError(`${JSON.stringify(argv[i + 1])} is not a valid flag`);
      break;
    }
    if (!a.startsWith('-') || a === '-')
      throw new FlagError(`${JSON.stringify(a)} is not a valid flag`);
    const body = a.startsWith('--') ? a.slice(2) : a.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('='))
      throw new FlagError(`bad flag syntax: ${a}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') throw new HelpRequested(helpText());
    if (IGNORED_FLAGS.includes(name)) {
      // Go's IgnoredFlag takes any value form; a value given separately is not consumed.
      warnings.push(`flag ${JSON.stringify(name)} is no longer supported - ignoring.`);
      continue;
    }
    const spec = BY_NAME.get(name);
    if (spec === undefined) throw new FlagError(`flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (spec.kind === 'bool' && eq >= 0 && goBool(value) === undefined)
      throw new FlagError(
        `invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`,
      );
    set.set(name, setValue(spec, value, `flag -${name}`));
  }
  return { set, warnings };
}

/**
 * Parses etcd's command line, then fills every flag not given from its ETCD_* variable
 * (ETCD_DATA_DIR for --data-dir), then from its default, as etcd does: an ETCD_* variable
 * for a flag also given on the command line is refused, an unknown ETCD_* variable is
 * warned about. A --config-file (or ETCD_CONFIG_FILE) replaces both.
 */
export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): ParsedFlags {
  const { set, warnings } = parseArgv(argv);
  if (set.get('version') === 'true') {
    return { values: { ...defaults(), version: 'true' }, explicit: new Set(['version']), warnings };
  }
  const configFile = set.get('config-file') ?? env.ETCD_CONFIG_FILE ?? '';
  if (configFile !== '') return fromConfigFile(configFile, warnings);
  const values = defaults();
  const explicit = new Set<string>();
  for (const [k, v] of set) {
    values[k] = v;
    explicit.add(k);
  }
  const used = new Set<string>();
  for (const spec of FLAGS) {
    const key = flagToEnv(spec.name);
    if (set.has(spec.name)) continue;
    const v = env[key];
    if (v === undefined || v === '') continue;
    used.add(key);
    values[spec.name] = setValue(spec, v, key);
    explicit.add(spec.name);
  }
  for (const [key, v] of Object.entries(env)) {
    if (used.has(key) || !key.startsWith('ETCD_')) continue;
    const spec = FLAGS.find((s) => flagToEnv(s.name) === key);
    if (spec !== undefined && set.has(spec.name))
      throw new FlagError(
        `conflicting environment variable ${JSON.stringify(key)} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
      );
    if (key === 'ETCD_CONFIG_FILE') continue;
    warnings.push(`unrecognized environment variable ${key}=${v ?? ''}`);
  }
  return { values, explicit, warnings };
}

function defaults(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of FLAGS) out[s.name] = s.default;
  return out;
}

/** A YAML value as the flag value it stands for (lists joined, durations in ns or Go's). */
function fromYaml(spec: FlagSpec, v: unknown, file: string): string {
  if (v === null || v === undefined) return spec.default;
  if (Array.isArray(v)) return v.map(String).join(',');
  if (spec.kind === 'duration' && typeof v === 'number') return `${v / 1e6}ms`;
  if (typeof v === 'object')
    throw new FlagError(
      `error reading config file ${file}: ${spec.fileKey ?? spec.name} is not a scalar`,
    );
  return setValue(spec, String(v), `${spec.fileKey ?? spec.name} in ${file}`);
}

/**
 * etcd's YAML config file: the flag names as keys (durations as nanoseconds, as etcd's Go
 * structs take them, or as Go duration strings), TLS under client-transport-security and
 * peer-transport-security. Keys etcd does not know are ignored, as etcd does.
 */
function fromConfigFile(file: string, warnings: string[]): ParsedFlags {
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new FlagError(`error reading config file ${file}: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new FlagError(`error reading config file ${file}: not a YAML mapping`);
  const values = defaults();
  const explicit = new Set<string>();
  for (const spec of FLAGS) {
    if (spec.fileKey === null) continue;
    const key = spec.fileKey ?? spec.name;
    const [outer, inner] = key.includes('.') ? key.split('.', 2) : [key, undefined];
    let v = doc[outer!];
    if (inner !== undefined)
      v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[inner] : undefined;
    if (v === undefined) continue;
    values[spec.name] = fromYaml(spec, v, file);
    explicit.add(spec.name);
  }
  values['config-file'] = file;
  explicit.add('config-file');
  return { values, explicit, warnings };
}

/** etcd's --help: its sections and flags, with etcd-ts's notes where it differs. */
export function helpText(): string {
  const lines: string[] = [
    'Usage:',
    '',
    '  etcd [flags]',
    '    Start an etcd server.',
    '',
    '  etcd --version',
    '    Show the version of etcd.',
    '',
    '  etcd -h | --help',
    '    Show the help information about etcd.',
    '',
    '  etcd --config-file',
    '    Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.',
    '',
  ];
  let section = '';
  for (const s of FLAGS) {
    if (s.section === S.other || s.release === 'hidden') continue;
    if (s.section !== section) {
      section = s.section;
      lines.push('', `${section}:`);
    }
    const shown = s.shown ?? s.default;
    lines.push(
      s.kind === 'uint' && s.section === S.auth
        ? `  --${s.name} ${shown}`
        : `  --${s.name} '${shown}'`,
    );
    for (const h of s.help.split('\n')) lines.push(`    ${h}`);
    if (s.note !== undefined) lines.push(`    [etcd-ts: ${s.note}]`);
  }
  lines.push(
    '',
    'CAUTIOUS with unsafe flag! It may break the guarantees given by the consensus protocol!',
    '',
  );
  return `${lines.join('\n')}\n`;
}

function urls(flag: string, v: string): string[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const u of list) {
    try {
      checkUrl(u, `--${flag}`);
    } catch (err) {
      throw new FlagError((err as Error).message);
    }
  }
  return list;
}

function listenUrls(flag: string, v: string, what: string): string[] {
  const list = urls(flag, v);
  for (const u of list) {
    if (u.startsWith('unix://') || u.startsWith('unixs://'))
      throw new FlagError(`--${flag}: unix sockets are not served by etcd-ts, only ${what}: ${u}`);
    if (!u.startsWith('http://') && !u.startsWith('https://'))
      throw new FlagError(`--${flag}: only http and https are supported by etcd-ts: ${u}`);
    // etcd's checkBindURLs: a listen URL names an IP (or localhost), never a host name.
    const host = new URL(u).hostname.replace(/^\[|\]$/g, '');
    if (host !== 'localhost' && !/^[\d.]+$/.test(host) && !host.includes(':'))
      throw new FlagError(`expected IP in URL for binding (${u})`);
  }
  return list;
}

function uint(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim()))
    throw new FlagError(`invalid value ${JSON.stringify(v)} for flag -${flag}: parse error`);
  return Number(v);
}

function int(flag: string, v: string): number {
  if (!/^-?\d+$/.test(v.trim()))
    throw new FlagError(`invalid value ${JSON.stringify(v)} for flag -${flag}: parse error`);
  return Number(v);
}

function duration(flag: string, v: string): number {
  try {
    return parseGoDuration(v);
  } catch (err) {
    throw new FlagError(
      `invalid value ${JSON.stringify(v)} for flag -${flag}: ${(err as Error).message}`,
    );
  }
}

function bcryptCost(v: string): number {
  const n = uint('bcrypt-cost', v);
  if (n < 4 || n > 31) throw new FlagError(`invalid bcrypt-cost ${n}: must be between 4 and 31`);
  return n;
}

/** A comma-separated list (etcd's StringsFromFlag). */
function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error', 'panic', 'fatal']);

/**
 * Turns flag values into the server's configuration with etcd's validation. Flags for what
 * etcd-ts does not have are refused (FlagError, naming why) or, where they only concern the
 * v2 API, the v2 proxy or an optional extra, accepted with a warning pushed to `warnings`.
 */
export function toEmbedConfig(p: ParsedFlags, warnings: string[] = p.warnings): EmbedConfig {
  const f = p.values;
  const given = (name: string) => p.explicit.has(name);
  const truthy = (name: string) => f[name] === 'true';
  const refuse = (msg: string): never => {
    throw new FlagError(msg);
  };
  const warn = (msg: string) => warnings.push(msg);

  const name = f.name!;
  const heartbeatMs = uint('heartbeat-interval', f['heartbeat-interval']!);
  const electionMs = uint('election-timeout', f['election-timeout']!);
  if (heartbeatMs <= 0) refuse(`--heartbeat-interval must be >0 (set to ${heartbeatMs}ms)`);
  if (electionMs <= 0) refuse(`--election-timeout must be >0 (set to ${electionMs}ms)`);
  if (5 * heartbeatMs > electionMs)
    refuse(
      `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`,
    );
  if (electionMs > 50000)
    refuse(`--election-timeout[${electionMs}ms] is too long, and should be set less than 50000ms`);
  const state = f['initial-cluster-state']!;
  if (state !== 'new' && state !== 'existing')
    refuse(
      `invalid value ${JSON.stringify(state)} for flag -initial-cluster-state: valid values are "new", "existing"`,
    );
  const mode = f['auto-compaction-mode']!;
  if (mode !== 'periodic' && mode !== 'revision')
    refuse(
      `unknown auto-compaction-mode ${JSON.stringify(mode)}: valid values are "periodic", "revision"`,
    );
  try {
    parseRetention(mode as AutoCompactionMode, f['auto-compaction-retention']!);
  } catch (err) {
    refuse((err as Error).message);
  }

  // --- What etcd-ts refuses, and why.
  if (f['wal-dir'] !== '')
    refuse('--wal-dir is not supported by etcd-ts: the WAL lives in <data-dir>/member/wal');
  if (f['listen-client-http-urls'] !== '')
    refuse(
      '--listen-client-http-urls is not supported by etcd-ts: it serves no HTTP to clients (no grpc-gateway, /health or /version), only gRPC',
    );
  if (given('enable-grpc-gateway') && truthy('enable-grpc-gateway'))
    refuse(
      '--enable-grpc-gateway is not supported by etcd-ts: it serves no grpc-gateway (JSON over HTTP), only gRPC',
    );
  if (given('grpc-keepalive-min-time'))
    refuse(
      '--grpc-keepalive-min-time is not supported by etcd-ts: grpc-js cannot refuse clients that ping more often than a minimum interval',
    );
  if (truthy('socket-reuse-port'))
    refuse(
      "--socket-reuse-port is not supported by etcd-ts: Node.js 20's listeners cannot set SO_REUSEPORT",
    );
  for (const t of ['raft-read-timeout', 'raft-write-timeout']) {
    const ms = duration(t, f[t]!);
    if (ms > 5000)
      refuse(
        `--${t} longer than 5s is not supported by etcd-ts: rafthttp's connection timeouts are fixed at etcd's minimum, 5s`,
      );
    if (given(t) && ms < 5000) warn(`${t} increased to minimum value: 5s`);
  }
  if (f.discovery !== '')
    refuse(
      '--discovery is not supported by etcd-ts: bootstrapping through a discovery service is not implemented; use --initial-cluster',
    );
  if (f['discovery-srv'] !== '' || f['discovery-srv-name'] !== '')
    refuse(
      '--discovery-srv is not supported by etcd-ts: bootstrapping from DNS SRV records is not implemented; use --initial-cluster',
    );
  const fallback = f['discovery-fallback']!;
  if (fallback !== 'exit' && fallback !== 'proxy')
    refuse(
      `invalid value ${JSON.stringify(fallback)} for flag -discovery-fallback: valid values are "exit", "proxy"`,
    );
  const proxy = f.proxy!;
  if (proxy !== 'off' && proxy !== 'readonly' && proxy !== 'on')
    refuse(
      `invalid value ${JSON.stringify(proxy)} for flag -proxy: valid values are "off", "readonly", "on"`,
    );
  if (proxy !== 'off')
    refuse(
      `--proxy=${proxy} is not supported by etcd-ts: it does not run as a v2 proxy (the v2 API is not served)`,
    );
  if (f['listen-metrics-urls'] !== '')
    refuse(
      '--listen-metrics-urls is not supported by etcd-ts yet: /metrics and /health are not served (the metrics issue)',
    );
  if (duration('experimental-corrupt-check-time', f['experimental-corrupt-check-time']!) !== 0)
    refuse(
      '--experimental-corrupt-check-time is not supported by etcd-ts yet: the periodic corruption check (and its CORRUPT alarm) is not implemented',
    );
  if (truthy('experimental-compact-hash-check-enabled'))
    refuse(
      '--experimental-compact-hash-check-enabled is not supported by etcd-ts yet: the compaction hash check is not implemented',
    );
  duration('experimental-compact-hash-check-time', f['experimental-compact-hash-check-time']!);
  if (
    int('experimental-compaction-batch-limit', f['experimental-compaction-batch-limit']!) !== 1000
  )
    refuse(
      "--experimental-compaction-batch-limit is not supported by etcd-ts: compaction deletes in batches of etcd's default, 1000 revisions",
    );
  if (
    duration(
      'experimental-compaction-sleep-interval',
      f['experimental-compaction-sleep-interval']!,
    ) !== 10
  )
    refuse(
      "--experimental-compaction-sleep-interval is not supported by etcd-ts: compaction pauses etcd's default, 10ms, between batches",
    );
  if (truthy('experimental-memory-mlock'))
    refuse(
      '--experimental-memory-mlock is not supported by etcd-ts: Node.js cannot mlock the backend pages',
    );
  if (
    uint(
      'experimental-bootstrap-defrag-threshold-megabytes',
      f['experimental-bootstrap-defrag-threshold-megabytes']!,
    ) !== 0
  )
    refuse(
      '--experimental-bootstrap-defrag-threshold-megabytes is not supported by etcd-ts: defragmenting at bootstrap is not implemented',
    );
  if (truthy('experimental-stop-grpc-service-on-defrag'))
    refuse(
      '--experimental-stop-grpc-service-on-defrag is not supported by etcd-ts: the health service does not report defragmentation',
    );
  if (
    truthy('experimental-enable-lease-checkpoint-persist') &&
    !truthy('experimental-enable-lease-checkpoint')
  )
    refuse(
      'setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint',
    );
  if (truthy('enable-log-rotation'))
    refuse(
      '--enable-log-rotation is not supported by etcd-ts: log rotation is not implemented (rotate the file with logrotate and copytruncate)',
    );
  duration('experimental-downgrade-check-time', f['experimental-downgrade-check-time']!);
  duration('experimental-warning-apply-duration', f['experimental-warning-apply-duration']!);

  // --- Accepted with a warning: the v2 API, the v2 proxy, and optional extras.
  if (truthy('enable-v2'))
    warn(
      '--enable-v2 is accepted but the v2 API is not served by etcd-ts: only v3 clients are answered',
    );
  if (given('v2-deprecation')) {
    const v = f['v2-deprecation']!;
    if (!['not-yet', 'write-only', 'write-only-drop-data', 'gone'].includes(v))
      refuse(
        `invalid value ${JSON.stringify(v)} for flag -v2-deprecation: valid values are "not-yet", "write-only", "write-only-drop-data", "gone"`,
      );
    warn(
      `--v2-deprecation=${v} is accepted: etcd-ts keeps no v2 store, so every phase holds already`,
    );
  }
  if (f['experimental-enable-v2v3'] !== '')
    warn('--experimental-enable-v2v3 is accepted but the v2 API is not served by etcd-ts');
  for (const pf of [
    'proxy-failure-wait',
    'proxy-refresh-interval',
    'proxy-dial-timeout',
    'proxy-write-timeout',
    'proxy-read-timeout',
  ])
    if (given(pf))
      warn(
        `--${pf} is accepted but ignored: only the v2 proxy uses it, and etcd-ts does not run as one`,
      );
  for (const ff of ['backend-bbolt-freelist-type', 'experimental-backend-bbolt-freelist-type'])
    if (given(ff))
      warn(`--${ff} is accepted but ignored: the backend is LMDB, which has no bbolt freelist`);
  if (given('cors') && f.cors !== '*' && f.cors !== '')
    warn('--cors is accepted but has nothing to filter: etcd-ts serves gRPC only, no HTTP');
  if (given('host-whitelist') && f['host-whitelist'] !== '*' && f['host-whitelist'] !== '')
    warn(
      '--host-whitelist is accepted but has nothing to filter: etcd-ts serves gRPC only, no HTTP',
    );
  if (truthy('enable-pprof'))
    warn(
      "--enable-pprof is accepted but nothing is served at /debug/pprof: Go's profiler has no Node.js equivalent over HTTP (profile with node --cpu-prof or --inspect)",
    );
  const metrics = f.metrics!;
  if (metrics !== 'basic' && metrics !== 'extensive')
    refuse(`unknown metrics ${JSON.stringify(metrics)}: valid values are "basic", "extensive"`);
  if (given('metrics')) warn('--metrics is accepted but no metrics are exported by etcd-ts yet');
  if (truthy('experimental-enable-distributed-tracing'))
    warn(
      '--experimental-enable-distributed-tracing is accepted but no spans are exported: OpenTelemetry tracing is not implemented',
    );
  int(
    'experimental-distributed-tracing-sampling-rate',
    f['experimental-distributed-tracing-sampling-rate']!,
  );
  if (given('experimental-warning-apply-duration'))
    warn(
      '--experimental-warning-apply-duration is accepted but slow applies are not logged by etcd-ts yet',
    );
  if (given('experimental-txn-mode-write-with-shared-buffer'))
    warn(
      '--experimental-txn-mode-write-with-shared-buffer is accepted but ignored: LMDB reads need no shared buffer',
    );
  if (f['client-cert-file'] !== '' || f['client-key-file'] !== '')
    warn(
      '--client-cert-file/--client-key-file are accepted but unused: etcd presents them only when dialing its own grpc-gateway, which etcd-ts does not run',
    );
  if (f['log-package-levels'] !== '')
    warn(
      `Deprecated '--log-package-levels=${f['log-package-levels']}' flag is set; use '--logger=zap' flag instead`,
    );

  // --- Logging.
  const logger = f.logger!;
  if (logger !== 'zap' && logger !== 'capnslog')
    refuse(`unknown logger option ${JSON.stringify(logger)}`);
  if (logger === 'capnslog')
    warn("--logger=capnslog is accepted but logs are written as zap's JSON lines");
  if (!LOG_LEVELS.has(f['log-level']!))
    refuse(`unknown log-level ${JSON.stringify(f['log-level'])}`);

  // --- TLS.
  let cipherSuites = list(f['cipher-suites']!);
  const tlsProtocol: TLSProtocolConfig = {};
  if (cipherSuites.length > 0) tlsProtocol.cipherSuites = cipherSuites;
  const tlsMin = f['tls-min-version']!;
  const tlsMax = f['tls-max-version']!;
  for (const v of [tlsMin, tlsMax])
    if (v !== '' && v !== 'TLS1.2' && v !== 'TLS1.3')
      refuse(`unexpected TLS version ${JSON.stringify(v)} (must be one of: TLS1.2, TLS1.3)`);
  if (tlsMin !== '' && tlsMin !== 'TLS1.2') tlsProtocol.minVersion = tlsMin as TLSVersionName;
  if (tlsMax !== '') tlsProtocol.maxVersion = tlsMax as TLSVersionName;
  try {
    validateTLSProtocol(tlsProtocol);
  } catch (err) {
    refuse((err as Error).message);
  }
  cipherSuites = tlsProtocol.cipherSuites ?? [];

  const certFile = f['cert-file']!;
  const keyFile = f['key-file']!;
  if ((certFile === '') !== (keyFile === ''))
    refuse('--cert-file and --key-file must be given together');
  const clientAutoTls = truthy('auto-tls');
  const peerAutoTls = truthy('peer-auto-tls');
  const validity = uint('self-signed-cert-validity', f['self-signed-cert-validity']!);
  if ((clientAutoTls || peerAutoTls) && validity === 0)
    refuse('--self-signed-cert-validity must be greater than 0');

  const peerCert = f['peer-cert-file']!;
  const peerKey = f['peer-key-file']!;
  if ((peerCert === '') !== (peerKey === ''))
    refuse('--peer-cert-file and --peer-key-file must be given together');
  const allowedCN = list(f['peer-cert-allowed-cn']!);
  const allowedHost = list(f['peer-cert-allowed-hostname']!);
  if (allowedCN.length > 1 || allowedHost.length > 1)
    refuse(
      '--peer-cert-allowed-cn and --peer-cert-allowed-hostname take one value in etcd-ts (as etcd 3.4), not a list',
    );
  if (allowedCN.length > 0 && allowedHost.length > 0)
    refuse(
      `AllowedCN and AllowedHostname are mutually exclusive (cn=${JSON.stringify(allowedCN[0])}, hostname=${JSON.stringify(allowedHost[0])})`,
    );
  const clientAllowedHost = list(f['client-cert-allowed-hostname']!);
  if (clientAllowedHost.length > 1)
    refuse('--client-cert-allowed-hostname takes one value in etcd-ts (as etcd 3.4), not a list');
  let peerTls: PeerTLSConfig | undefined;
  if (peerCert !== '') {
    peerTls = {
      certFile: peerCert,
      keyFile: peerKey,
      ...(f['peer-trusted-ca-file'] ? { trustedCaFile: f['peer-trusted-ca-file'] } : {}),
      clientCertAuth: truthy('peer-client-cert-auth'),
      ...(allowedCN[0] ? { allowedCN: allowedCN[0] } : {}),
      ...(allowedHost[0] ? { allowedHostname: allowedHost[0] } : {}),
      ...(f['peer-crl-file'] ? { crlFile: f['peer-crl-file'] } : {}),
      ...(truthy('experimental-peer-skip-client-san-verification')
        ? { skipClientSanVerify: true }
        : {}),
      ...(f['peer-client-cert-file'] ? { clientCertFile: f['peer-client-cert-file'] } : {}),
      ...(f['peer-client-key-file'] ? { clientKeyFile: f['peer-client-key-file'] } : {}),
    };
  } else {
    for (const flag of [
      'peer-trusted-ca-file',
      'peer-crl-file',
      'peer-cert-allowed-cn',
      'peer-cert-allowed-hostname',
    ])
      if (f[flag] !== '' && !peerAutoTls)
        refuse(`--${flag} needs --peer-cert-file and --peer-key-file (or --peer-auto-tls)`);
  }

  // --- URLs.
  const peerUrls = urls('initial-advertise-peer-urls', f['initial-advertise-peer-urls']!);
  const listenPeerUrls = listenUrls('listen-peer-urls', f['listen-peer-urls']!, 'http and https');
  for (const u of listenPeerUrls)
    if (u.startsWith('https:') && peerCert === '' && !peerAutoTls)
      refuse(
        `TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url ${u} with HTTPS scheme`,
      );
  const initialClusterSpec =
    f['initial-cluster'] !== ''
      ? f['initial-cluster']!
      : peerUrls.map((u) => `${name}=${u}`).join(',');
  let initialCluster: Map<string, string[]> = new Map();
  try {
    initialCluster = parseInitialCluster(initialClusterSpec);
  } catch (err) {
    refuse((err as Error).message);
  }
  const listenClientUrls = listenUrls(
    'listen-client-urls',
    f['listen-client-urls']!,
    'http and https',
  );
  // etcd: listening on explicit client URLs needs explicit advertised ones (not from a file).
  if (
    !p.explicit.has('config-file') &&
    given('listen-client-urls') &&
    !given('advertise-client-urls')
  )
    refuse('--advertise-client-urls is required when --listen-client-urls is set explicitly');
  for (const u of listenClientUrls)
    if (u.startsWith('https:') && certFile === '' && !clientAutoTls)
      refuse(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u} with HTTPS scheme`,
      );
  if (certFile === '')
    for (const flag of ['trusted-ca-file', 'client-crl-file', 'client-cert-allowed-hostname'])
      if (f[flag] !== '' && !clientAutoTls)
        refuse(`--${flag} needs --cert-file and --key-file (or --auto-tls)`);

  // --- Durations and limits.
  const watchProgressNotifyIntervalMs = duration(
    'experimental-watch-progress-notify-interval',
    f['experimental-watch-progress-notify-interval']!,
  );
  if (!(watchProgressNotifyIntervalMs > 0))
    refuse('--experimental-watch-progress-notify-interval must be greater than 0');
  const maxRequestBytes = uint('max-request-bytes', f['max-request-bytes']!);
  if (maxRequestBytes === 0) refuse('--max-request-bytes must be greater than 0');
  const batchInterval = duration('backend-batch-interval', f['backend-batch-interval']!);
  const batchLimit = int('backend-batch-limit', f['backend-batch-limit']!);
  const catchUp = uint(
    'experimental-snapshot-catchup-entries',
    f['experimental-snapshot-catchup-entries']!,
  );
  const maxConcurrentStreams = uint('max-concurrent-streams', f['max-concurrent-streams']!);
  if (maxConcurrentStreams === 0) refuse('--max-concurrent-streams must be greater than 0');
  if (truthy('debug'))
    warn("Deprecated '--debug' flag is set to true (use '--log-level=debug' instead)");

  const base = defaultServerConfig({
    name,
    dataDir: f['data-dir'] !== '' ? f['data-dir']! : `${name}.etcd`,
    initialCluster,
    initialClusterState: state as 'new' | 'existing',
    initialClusterToken: f['initial-cluster-token']!,
    initialAdvertisePeerUrls: peerUrls,
    advertiseClientUrls: urls('advertise-client-urls', f['advertise-client-urls']!),
    heartbeatMs,
    electionMs,
    initialElectionTickAdvance: truthy('initial-election-tick-advance'),
    preVote: truthy('pre-vote'),
    strictReconfigCheck: truthy('strict-reconfig-check'),
    forceNewCluster: truthy('force-new-cluster'),
    initialCorruptCheck: truthy('experimental-initial-corrupt-check'),
    snapshotCount: uint('snapshot-count', f['snapshot-count']!),
    ...(catchUp > 0 ? { snapshotCatchUpEntries: catchUp } : {}),
    maxWals: uint('max-wals', f['max-wals']!) || Number.MAX_SAFE_INTEGER,
    maxSnapshots: uint('max-snapshots', f['max-snapshots']!) || Number.MAX_SAFE_INTEGER,
    maxRequestBytes,
    maxTxnOps: uint('max-txn-ops', f['max-txn-ops']!),
    quotaBackendBytes: int('quota-backend-bytes', f['quota-backend-bytes']!),
    autoCompactionMode: mode as AutoCompactionMode,
    autoCompactionRetention: f['auto-compaction-retention']!,
    unsafeNoFsync: truthy('unsafe-no-fsync'),
    authToken: f['auth-token']!,
    authTokenTtl: uint('auth-token-ttl', f['auth-token-ttl']!),
    bcryptCost: bcryptCost(f['bcrypt-cost']!),
    watchProgressNotifyIntervalMs,
    // etcd: 0 means its defaults (100ms, 10,000 operations).
    ...(batchInterval > 0 ? { backendBatchInterval: batchInterval } : {}),
    ...(batchLimit > 0 ? { backendBatchLimit: batchLimit } : {}),
    ...(peerTls !== undefined ? { peerTls } : {}),
  });
  return {
    ...base,
    listenClientUrls,
    listenPeerUrls,
    clientTls:
      certFile === ''
        ? undefined
        : {
            certFile,
            keyFile,
            trustedCaFile: f['trusted-ca-file'] || undefined,
            clientCertAuth: truthy('client-cert-auth'),
            ...(f['client-crl-file'] ? { crlFile: f['client-crl-file'] } : {}),
            ...(clientAllowedHost[0] ? { allowedHostname: clientAllowedHost[0] } : {}),
          },
    ...(clientAutoTls ? { clientAutoTls } : {}),
    ...(peerAutoTls ? { peerAutoTls } : {}),
    ...(clientAutoTls || peerAutoTls ? { selfSignedCertValidity: validity } : {}),
    ...(cipherSuites.length > 0 || tlsProtocol.minVersion || tlsProtocol.maxVersion
      ? { tlsProtocol }
      : {}),
    maxConcurrentStreams,
    grpcKeepAliveIntervalMs: duration('grpc-keepalive-interval', f['grpc-keepalive-interval']!),
    grpcKeepAliveTimeoutMs: duration('grpc-keepalive-timeout', f['grpc-keepalive-timeout']!),
  };
}

/** The log level and outputs the flags ask for (--debug wins, as in etcd 3.4). */
export function logSettings(p: ParsedFlags): { level: string; outputs: string[] } {
  const f = p.values;
  const level = f.debug === 'true' ? 'debug' : f['log-level']!;
  let outputs = list(f['log-outputs']!);
  const legacy = list(f['log-output']!);
  if (p.explicit.has('log-output') && !p.explicit.has('log-outputs')) outputs = legacy;
  return { level, outputs: outputs.length === 0 ? ['default'] : outputs };
}

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
  DEFAULT_SNAPSHOT_COUNT,
  defaultServerConfig,
  type EmbedConfig,
  parseGoDuration,
  parseInitialCluster,
  parseRetention,
} from '@etcd-ts/server';
import { Command, Option } from 'commander';
import YAML from 'yaml';

/** A flag etcd has: its name, kind, default and help (etcdmain/help.go). */
interface FlagSpec {
  name: string;
  kind: 'string' | 'uint' | 'int' | 'bool';
  default: string;
  help: string;
}

const FLAGS: FlagSpec[] = [
  {
    name: 'config-file',
    kind: 'string',
    default: '',
    help: 'Path to the server configuration file. Note that if a configuration file is provided, other command line flags and environment variables will be ignored.',
  },
  {
    name: 'name',
    kind: 'string',
    default: 'default',
    help: 'Human-readable name for this member.',
  },
  {
    name: 'data-dir',
    kind: 'string',
    default: '',
    help: 'Path to the data directory (default: <name>.etcd).',
  },
  {
    name: 'wal-dir',
    kind: 'string',
    default: '',
    help: 'Path to the dedicated wal directory (not supported: must be empty).',
  },
  {
    name: 'snapshot-count',
    kind: 'uint',
    default: String(DEFAULT_SNAPSHOT_COUNT),
    help: 'Number of committed transactions to trigger a snapshot to disk.',
  },
  {
    name: 'heartbeat-interval',
    kind: 'uint',
    default: String(DEFAULT_HEARTBEAT_MS),
    help: 'Time (in milliseconds) of a heartbeat interval.',
  },
  {
    name: 'election-timeout',
    kind: 'uint',
    default: String(DEFAULT_ELECTION_MS),
    help: 'Time (in milliseconds) for an election to timeout.',
  },
  {
    name: 'initial-election-tick-advance',
    kind: 'bool',
    default: 'true',
    help: 'Whether to fast-forward initial election ticks on boot for faster election.',
  },
  {
    name: 'listen-peer-urls',
    kind: 'string',
    default: 'http://localhost:2380',
    help: 'List of URLs to listen on for peer traffic.',
  },
  {
    name: 'listen-client-urls',
    kind: 'string',
    default: 'http://localhost:2379',
    help: 'List of URLs to listen on for client traffic.',
  },
  {
    name: 'max-snapshots',
    kind: 'uint',
    default: String(DEFAULT_MAX_SNAPSHOTS),
    help: 'Maximum number of snapshot files to retain (0 is unlimited).',
  },
  {
    name: 'max-wals',
    kind: 'uint',
    default: String(DEFAULT_MAX_WALS),
    help: 'Maximum number of wal files to retain (0 is unlimited).',
  },
  {
    name: 'quota-backend-bytes',
    kind: 'int',
    default: '0',
    help: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).',
  },
  {
    name: 'max-txn-ops',
    kind: 'uint',
    default: String(DEFAULT_MAX_TXN_OPS),
    help: 'Maximum number of operations permitted in a transaction.',
  },
  {
    name: 'max-request-bytes',
    kind: 'uint',
    default: String(DEFAULT_MAX_REQUEST_BYTES),
    help: 'Maximum client request size in bytes the server will accept.',
  },
  {
    name: 'initial-advertise-peer-urls',
    kind: 'string',
    default: 'http://localhost:2380',
    help: "List of this member's peer URLs to advertise to the rest of the cluster.",
  },
  {
    name: 'initial-cluster',
    kind: 'string',
    default: '',
    help: 'Initial cluster configuration for bootstrapping (default: <name>=<initial-advertise-peer-urls>).',
  },
  {
    name: 'initial-cluster-state',
    kind: 'string',
    default: 'new',
    help: "Initial cluster state ('new' or 'existing').",
  },
  {
    name: 'initial-cluster-token',
    kind: 'string',
    default: 'etcd-cluster',
    help: 'Initial cluster token for the etcd cluster during bootstrap.',
  },
  {
    name: 'advertise-client-urls',
    kind: 'string',
    default: 'http://localhost:2379',
    help: "List of this member's client URLs to advertise to the public.",
  },
  {
    name: 'strict-reconfig-check',
    kind: 'bool',
    default: 'true',
    help: 'Reject reconfiguration requests that would cause quorum loss.',
  },
  {
    name: 'auto-compaction-retention',
    kind: 'string',
    default: '0',
    help: 'Auto compaction retention length. 0 means disable auto compaction.',
  },
  {
    name: 'auto-compaction-mode',
    kind: 'string',
    default: 'periodic',
    help: "Interpret 'auto-compaction-retention' one of: periodic|revision.",
  },
  {
    name: 'cert-file',
    kind: 'string',
    default: '',
    help: 'Path to the client server TLS cert file.',
  },
  {
    name: 'key-file',
    kind: 'string',
    default: '',
    help: 'Path to the client server TLS key file.',
  },
  {
    name: 'client-cert-auth',
    kind: 'bool',
    default: 'false',
    help: 'Enable client cert authentication.',
  },
  {
    name: 'trusted-ca-file',
    kind: 'string',
    default: '',
    help: 'Path to the client server TLS trusted CA cert file.',
  },
  {
    name: 'logger',
    kind: 'string',
    default: 'zap',
    help: "Currently only supports 'zap' for structured logging.",
  },
  {
    name: 'log-level',
    kind: 'string',
    default: 'info',
    help: 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.',
  },
  {
    name: 'log-outputs',
    kind: 'string',
    default: 'default',
    help: "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or list of comma separated output targets.",
  },
  {
    name: 'auth-token',
    kind: 'string',
    default: 'simple',
    help: "Specify auth token specific options: 'simple' or 'jwt,pub-key=...,priv-key=...,sign-method=...'.",
  },
  {
    name: 'auth-token-ttl',
    kind: 'uint',
    default: '300',
    help: 'The lifetime in seconds of the auth token.',
  },
  {
    name: 'bcrypt-cost',
    kind: 'uint',
    default: '10',
    help: 'Specify bcrypt algorithm cost factor for auth password hashing.',
  },
  {
    name: 'experimental-watch-progress-notify-interval',
    kind: 'string',
    default: '10m0s',
    help: 'Duration of periodic watch progress notifications.',
  },
  {
    name: 'unsafe-no-fsync',
    kind: 'bool',
    default: 'false',
    help: 'Disables fsync, unsafe, will cause data loss.',
  },
  {
    name: 'enable-v2',
    kind: 'bool',
    default: 'false',
    help: 'Accept etcd V2 client requests (not supported).',
  },
  { name: 'version', kind: 'bool', default: 'false', help: 'Print the version and exit.' },
];

export type FlagValues = Record<string, string>;

export class FlagError extends Error {}

/** Go's flag package takes -name and --name alike; commander wants --name. Booleans take =true/=false. */
function normaliseArgv(argv: string[]): string[] {
  const bools = new Set(FLAGS.filter((f) => f.kind === 'bool').map((f) => f.name));
  const out: string[] = [];
  for (const a of argv) {
    let arg = a;
    if (/^-[a-z]/.test(arg) && !arg.startsWith('--')) arg = `-${arg}`;
    const m = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    if (m !== null && bools.has(m[1]!)) {
      const v = m[2]!.toLowerCase();
      if (v === 'true' || v === '1') out.push(`--${m[1]}`);
      else if (v === 'false' || v === '0') out.push(`--no-${m[1]}`);
      else
        throw new FlagError(
          `invalid boolean value ${JSON.stringify(m[2])} for -${m[1]}: parse error`,
        );
      continue;
    }
    out.push(arg);
  }
  return out;
}

/**
 * Parses etcd's command line, then fills every flag not given from its ETCD_* variable
 * (ETCD_DATA_DIR for --data-dir), then from the default. A --config-file replaces both.
 */
export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): FlagValues {
  const program = new Command('etcd')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false);
  for (const f of FLAGS) {
    if (f.kind === 'bool') {
      program.addOption(new Option(`--${f.name}`, f.help));
      program.addOption(new Option(`--no-${f.name}`).hideHelp());
    } else program.addOption(new Option(`--${f.name} <value>`, f.help));
  }
  try {
    program.parse(normaliseArgv(argv), { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help')
      throw new HelpRequested(program.helpInformation());
    throw new FlagError(e.message.replace(/^error: /, ''));
  }
  const given = program.opts() as Record<string, string | boolean | undefined>;
  const out: FlagValues = {};
  for (const f of FLAGS) {
    const key = camel(f.name);
    const v = given[key];
    const envName = `ETCD_${f.name.toUpperCase().replace(/-/g, '_')}`;
    if (v !== undefined) out[f.name] = String(v);
    else if (env[envName] !== undefined && env[envName] !== '') out[f.name] = env[envName]!;
    else out[f.name] = f.default;
  }
  if (out['config-file'] !== '') return fromConfigFile(out['config-file']!);
  return out;
}

export class HelpRequested extends Error {}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** etcd's YAML config file: flag names as keys, TLS under client-transport-security. */
function fromConfigFile(file: string): FlagValues {
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(fs.readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new FlagError(`error reading config file ${file}: ${(err as Error).message}`);
  }
  const out: FlagValues = {};
  for (const f of FLAGS) out[f.name] = f.default;
  const known = new Set(FLAGS.map((f) => f.name));
  const put = (k: string, v: unknown) => {
    if (!known.has(k)) return;
    out[k] = Array.isArray(v) ? v.join(',') : String(v);
  };
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'client-transport-security' && v !== null && typeof v === 'object') {
      for (const [tk, tv] of Object.entries(v as Record<string, unknown>)) put(tk, tv);
    } else put(k, v);
  }
  out['config-file'] = file;
  return out;
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

function bcryptCost(v: string): number {
  const n = uint('bcrypt-cost', v);
  if (n < 4 || n > 31) throw new FlagError(`invalid bcrypt-cost ${n}: must be between 4 and 31`);
  return n;
}

/** Turns flag values into the server's configuration, with etcd's validation. */
export function toEmbedConfig(f: FlagValues): EmbedConfig {
  const name = f.name!;
  const heartbeatMs = uint('heartbeat-interval', f['heartbeat-interval']!);
  const electionMs = uint('election-timeout', f['election-timeout']!);
  if (heartbeatMs === 0) throw new FlagError('--heartbeat-interval must be greater than 0');
  if (5 * heartbeatMs > electionMs)
    throw new FlagError(
      `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`,
    );
  if (electionMs > 50000)
    throw new FlagError(
      `--election-timeout[${electionMs}ms] is too long, and should be set less than 50 seconds`,
    );
  const state = f['initial-cluster-state']!;
  if (state !== 'new' && state !== 'existing')
    throw new FlagError(
      `invalid value ${JSON.stringify(state)} for flag -initial-cluster-state: valid values are "new", "existing"`,
    );
  const mode = f['auto-compaction-mode']!;
  if (mode !== 'periodic' && mode !== 'revision')
    throw new FlagError(
      `unknown auto-compaction-mode ${JSON.stringify(mode)}: valid values are "periodic", "revision"`,
    );
  try {
    parseRetention(mode as AutoCompactionMode, f['auto-compaction-retention']!);
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  if (f['wal-dir'] !== '')
    throw new FlagError(
      '--wal-dir is not supported by etcd-ts: the WAL lives in <data-dir>/member/wal',
    );
  if (f['enable-v2'] === 'true')
    throw new FlagError('--enable-v2 is not supported by etcd-ts: it serves the v3 API only');
  if (f.logger !== 'zap' && f.logger !== 'capnslog')
    throw new FlagError(`unknown logger option ${JSON.stringify(f.logger)}`);
  const peerUrls = urls('initial-advertise-peer-urls', f['initial-advertise-peer-urls']!);
  const listenPeerUrls = urls('listen-peer-urls', f['listen-peer-urls']!);
  for (const u of listenPeerUrls)
    if (!u.startsWith('http://') && !u.startsWith('https://'))
      throw new FlagError(`--listen-peer-urls: only http and https are supported: ${u}`);
  const initialClusterSpec =
    f['initial-cluster'] !== ''
      ? f['initial-cluster']!
      : peerUrls.map((u) => `${name}=${u}`).join(',');
  let initialCluster: Map<string, string[]>;
  try {
    initialCluster = parseInitialCluster(initialClusterSpec);
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const listenClientUrls = urls('listen-client-urls', f['listen-client-urls']!);
  for (const u of listenClientUrls)
    if (!u.startsWith('http://') && !u.startsWith('https://'))
      throw new FlagError(
        `--listen-client-urls: only http and https are supported by etcd-ts: ${u}`,
      );
  const certFile = f['cert-file']!;
  const keyFile = f['key-file']!;
  if ((certFile === '') !== (keyFile === ''))
    throw new FlagError('--cert-file and --key-file must be given together');
  for (const u of listenClientUrls)
    if (u.startsWith('https:') && certFile === '')
      throw new FlagError(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u} with HTTPS scheme`,
      );
  let watchProgressNotifyIntervalMs: number;
  try {
    watchProgressNotifyIntervalMs = parseGoDuration(
      f['experimental-watch-progress-notify-interval']!,
    );
  } catch (err) {
    throw new FlagError(
      `invalid value ${JSON.stringify(f['experimental-watch-progress-notify-interval'])} for flag -experimental-watch-progress-notify-interval: ${(err as Error).message}`,
    );
  }
  if (!(watchProgressNotifyIntervalMs > 0))
    throw new FlagError('--experimental-watch-progress-notify-interval must be greater than 0');
  const maxRequestBytes = uint('max-request-bytes', f['max-request-bytes']!);
  if (maxRequestBytes === 0) throw new FlagError('--max-request-bytes must be greater than 0');
  return {
    ...defaultServerConfig({
      name,
      dataDir: f['data-dir'] !== '' ? f['data-dir']! : `${name}.etcd`,
      initialCluster,
      initialClusterState: state,
      initialClusterToken: f['initial-cluster-token']!,
      initialAdvertisePeerUrls: peerUrls,
      advertiseClientUrls: urls('advertise-client-urls', f['advertise-client-urls']!),
      heartbeatMs,
      electionMs,
      initialElectionTickAdvance: f['initial-election-tick-advance'] !== 'false',
      strictReconfigCheck: f['strict-reconfig-check'] !== 'false',
      snapshotCount: uint('snapshot-count', f['snapshot-count']!),
      maxWals: uint('max-wals', f['max-wals']!) || Number.MAX_SAFE_INTEGER,
      maxSnapshots: uint('max-snapshots', f['max-snapshots']!) || Number.MAX_SAFE_INTEGER,
      maxRequestBytes,
      maxTxnOps: uint('max-txn-ops', f['max-txn-ops']!),
      quotaBackendBytes: int('quota-backend-bytes', f['quota-backend-bytes']!),
      autoCompactionMode: mode,
      autoCompactionRetention: f['auto-compaction-retention']!,
      unsafeNoFsync: f['unsafe-no-fsync'] === 'true',
      authToken: f['auth-token']!,
      authTokenTtl: uint('auth-token-ttl', f['auth-token-ttl']!),
      bcryptCost: bcryptCost(f['bcrypt-cost']!),
      watchProgressNotifyIntervalMs,
    }),
    listenClientUrls,
    listenPeerUrls,
    clientTls:
      certFile === ''
        ? undefined
        : {
            certFile,
            keyFile,
            trustedCaFile: f['trusted-ca-file'] || undefined,
            clientCertAuth: f['client-cert-auth'] === 'true',
          },
  };
}

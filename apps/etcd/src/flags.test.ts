import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FLAGS,
  FlagError,
  flagToEnv,
  helpText,
  logSettings,
  parseFlags,
  toEmbedConfig,
} from './flags.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseFlags(argv, env);
const cfg = (argv: string[], env: NodeJS.ProcessEnv = {}) => toEmbedConfig(parse(argv, env));
/** The configuration and the warnings logged for it. */
const withWarnings = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const warnings: string[] = [];
  const p = parse(argv, env);
  const c = toEmbedConfig(p, warnings);
  return { c, warnings: [...p.warnings, ...warnings] };
};
const ETCD_BIN = '/usr/bin/etcd';

/** The flags etcd's own --help lists (`  --name 'default'` lines). */
function helpFlags(text: string): string[] {
  return [...text.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]!);
}

describe('the flag list', () => {
  it.skipIf(!existsSync(ETCD_BIN))("knows every flag of Debian's etcd 3.4 --help", () => {
    const out = execFileSync(ETCD_BIN, ['--help'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const theirs = helpFlags(out);
    expect(theirs.length).toBeGreaterThan(70);
    const ours = new Set(FLAGS.map((f) => f.name));
    expect(theirs.filter((n) => !ours.has(n))).toEqual([]);
    // And each parses on our command line with the default etcd prints (except the
    // defaults shown symbolically: ${name}.etcd, math.MaxUint32, an empty duration).
    for (const m of out.matchAll(/^ {2}--([a-z0-9-]+) '([^']*)'$/gm)) {
      const [, name, shown] = m;
      const spec = FLAGS.find((f) => f.name === name)!;
      if (spec.shown !== undefined) continue;
      if (['logger', 'pre-vote', 'experimental-backend-bbolt-freelist-type'].includes(name!))
        continue; // 3.4's defaults; etcd-ts has 3.5's
      if (spec.kind === 'duration')
        expect(parseDurationMs(spec.default)).toBe(parseDurationMs(shown!));
      else expect([name, spec.default]).toEqual([name, shown]);
    }
  });

  it("has etcd 3.5's flags too, and prints a help with every section", () => {
    const ours = new Set(FLAGS.map((f) => f.name));
    for (const n of [
      'listen-client-http-urls',
      'socket-reuse-port',
      'socket-reuse-address',
      'raft-read-timeout',
      'raft-write-timeout',
      'v2-deprecation',
      'client-cert-file',
      'peer-client-cert-file',
      'self-signed-cert-validity',
      'tls-min-version',
      'tls-max-version',
      'enable-log-rotation',
      'log-rotation-config-json',
      'experimental-enable-distributed-tracing',
      'experimental-compact-hash-check-enabled',
      'experimental-downgrade-check-time',
      'experimental-memory-mlock',
      'experimental-bootstrap-defrag-threshold-megabytes',
      'experimental-stop-grpc-service-on-defrag',
      'backend-bbolt-freelist-type',
    ])
      expect(ours.has(n), n).toBe(true);
    const help = helpText();
    for (const s of ['Member:', 'Clustering:', 'Security:', 'Auth:', 'Logging:', 'Unsafe feature:'])
      expect(help).toContain(s);
    expect(helpFlags(help).length).toBeGreaterThan(100);
    expect(help).toContain("  --max-concurrent-streams 'math.MaxUint32'");
    expect(() => parse(['--help'])).toThrow(/Usage:/);
    expect(() => parse(['-h'])).toThrow(/Usage:/);
  });

  it('names every environment variable ETCD_<FLAG>', () => {
    expect(flagToEnv('data-dir')).toBe('ETCD_DATA_DIR');
    expect(flagToEnv('experimental-initial-corrupt-check')).toBe(
      'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK',
    );
  });
});

function parseDurationMs(s: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s === '10m0s' ? '10m' : s);
  if (m === null) throw new Error(`duration ${s}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
}

describe('flags', () => {
  it("has etcd's defaults", () => {
    const c = cfg([]);
    expect(c.name).toBe('default');
    expect(c.dataDir).toBe('default.etcd');
    expect(c.listenClientUrls).toEqual(['http://localhost:2379']);
    expect(c.advertiseClientUrls).toEqual(['http://localhost:2379']);
    expect(c.initialCluster).toEqual(new Map([['default', ['http://localhost:2380']]]));
    expect(c.initialClusterToken).toBe('etcd-cluster');
    expect(c.heartbeatMs).toBe(100);
    expect(c.electionMs).toBe(1000);
    expect(c.snapshotCount).toBe(100_000);
    expect(c.maxRequestBytes).toBe(1.5 * 1024 * 1024);
    expect(c.maxTxnOps).toBe(128);
    expect(c.quotaBackendBytes).toBe(0);
    expect(c.autoCompactionMode).toBe('periodic');
    expect(c.authToken).toBe('simple');
    expect(c.authTokenTtl).toBe(300);
    expect(c.bcryptCost).toBe(10);
    expect(c.preVote).toBe(true);
    expect(c.strictReconfigCheck).toBe(true);
    expect(c.forceNewCluster).toBe(false);
    expect(c.initialElectionTickAdvance).toBe(true);
    expect(c.maxConcurrentStreams).toBe(2 ** 32 - 1);
    expect(c.grpcKeepAliveIntervalMs).toBe(2 * 3600 * 1000);
    expect(c.grpcKeepAliveTimeoutMs).toBe(20_000);
    expect(c.backendBatchInterval).toBe(100);
    expect(c.backendBatchLimit).toBe(10_000);
    expect(c.peerTls).toBeUndefined();
    expect(c.clientTls).toBeUndefined();
  });

  it('takes -flag, --flag=value, --flag value and booleans as Go does', () => {
    const c = cfg([
      '-name',
      'n1',
      '--data-dir=/tmp/x',
      '--snapshot-count',
      '10',
      '--unsafe-no-fsync=true',
      '--client-cert-auth=false',
      '-pre-vote=F',
      '--strict-reconfig-check=0',
      '--force-new-cluster',
      '--initial-election-tick-advance=false',
    ]);
    expect(c.name).toBe('n1');
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.snapshotCount).toBe(10);
    expect(c.unsafeNoFsync).toBe(true);
    expect(c.preVote).toBe(false);
    expect(c.strictReconfigCheck).toBe(false);
    expect(c.forceNewCluster).toBe(true);
    expect(c.initialElectionTickAdvance).toBe(false);
    expect(c.initialCluster.get('n1')).toEqual(['http://localhost:2380']);
    expect(() => parse(['--name'])).toThrow('flag needs an argument: -name');
    expect(() => parse(['stray'])).toThrow('"stray" is not a valid flag');
  });

  it('maps the limits and tuning flags to the server config', () => {
    const c = cfg([
      '--max-concurrent-streams=7',
      '--grpc-keepalive-interval=30s',
      '--grpc-keepalive-timeout=0',
      '--backend-batch-interval=250ms',
      '--backend-batch-limit=50',
      '--experimental-snapshot-catchup-entries=99',
    ]);
    expect(c.maxConcurrentStreams).toBe(7);
    expect(c.grpcKeepAliveIntervalMs).toBe(30_000);
    expect(c.grpcKeepAliveTimeoutMs).toBe(0);
    expect(c.backendBatchInterval).toBe(250);
    expect(c.backendBatchLimit).toBe(50);
    expect(c.snapshotCatchUpEntries).toBe(99);
    expect(() => cfg(['--max-concurrent-streams=4294967296'])).toThrow(/parse error/);
  });

  it('reads ETCD_* variables for flags not given, and refuses one shadowed by a flag', () => {
    const c = cfg(['--name', 'flag'], {
      ETCD_MAX_TXN_OPS: '7',
      ETCD_DATA_DIR: '/d',
      ETCD_PRE_VOTE: 'false',
    });
    expect(c.name).toBe('flag');
    expect(c.maxTxnOps).toBe(7);
    expect(c.dataDir).toBe('/d');
    expect(c.preVote).toBe(false);
    expect(() => cfg(['--name', 'flag'], { ETCD_NAME: 'env' })).toThrow(
      'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)',
    );
    expect(() => cfg([], { ETCD_HEARTBEAT_INTERVAL: 'x' })).toThrow(
      'invalid value "x" for ETCD_HEARTBEAT_INTERVAL: parse error',
    );
    const { warnings } = withWarnings([], { ETCD_BIN: '/usr/bin/etcd' });
    expect(warnings).toContain('unrecognized environment variable ETCD_BIN=/usr/bin/etcd');
  });

  it('reads a YAML --config-file (or ETCD_CONFIG_FILE) and ignores flags and env then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-cfg-'));
    try {
      const file = join(dir, 'etcd.yaml');
      writeFileSync(
        file,
        [
          'name: y1',
          'data-dir: /data/y1',
          'listen-client-urls: http://127.0.0.1:3379',
          'quota-backend-bytes: 1000000',
          'pre-vote: false',
          'max-concurrent-streams: 9',
          'experimental-watch-progress-notify-interval: 5000000000',
          'grpc-keepalive-interval: 1m',
          'cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]',
          'client-transport-security:',
          '  cert-file: /c.crt',
          '  key-file: /c.key',
          '  client-cert-auth: true',
          '  crl-file: /c.crl',
          'peer-transport-security:',
          '  cert-file: /p.crt',
          '  key-file: /p.key',
          '  trusted-ca-file: /ca.crt',
          '  client-cert-auth: true',
          '  allowed-cn: etcd-peer',
          'unknown-key: ignored',
        ].join('\n'),
      );
      const c = cfg(['--config-file', file, '--name', 'ignored'], { ETCD_DATA_DIR: 'ignored' });
      expect(c.name).toBe('y1');
      expect(c.dataDir).toBe('/data/y1');
      expect(c.listenClientUrls).toEqual(['http://127.0.0.1:3379']);
      expect(c.quotaBackendBytes).toBe(1_000_000);
      expect(c.preVote).toBe(false);
      expect(c.maxConcurrentStreams).toBe(9);
      expect(c.watchProgressNotifyIntervalMs).toBe(5000);
      expect(c.grpcKeepAliveIntervalMs).toBe(60_000);
      expect(c.tlsProtocol).toEqual({ cipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'] });
      expect(c.clientTls).toEqual({
        certFile: '/c.crt',
        keyFile: '/c.key',
        trustedCaFile: undefined,
        clientCertAuth: true,
        crlFile: '/c.crl',
      });
      expect(c.peerTls).toEqual({
        certFile: '/p.crt',
        keyFile: '/p.key',
        trustedCaFile: '/ca.crt',
        clientCertAuth: true,
        allowedCN: 'etcd-peer',
      });
      expect(cfg([], { ETCD_CONFIG_FILE: file }).name).toBe('y1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps the peer and client TLS flags', () => {
    const c = cfg([
      '--listen-peer-urls=https://127.0.0.1:2380',
      '--initial-advertise-peer-urls=https://127.0.0.1:2380',
      '--peer-cert-file=/p.crt',
      '--peer-key-file=/p.key',
      '--peer-trusted-ca-file=/ca.crt',
      '--peer-client-cert-auth',
      '--peer-cert-allowed-hostname=m1.example',
      '--peer-crl-file=/p.crl',
      '--peer-client-cert-file=/pc.crt',
      '--peer-client-key-file=/pc.key',
      '--experimental-peer-skip-client-san-verification',
      '--listen-client-urls=https://127.0.0.1:2379',
      '--advertise-client-urls=https://127.0.0.1:2379',
      '--cert-file=/c.crt',
      '--key-file=/c.key',
      '--trusted-ca-file=/ca.crt',
      '--client-crl-file=/c.crl',
      '--client-cert-allowed-hostname=client.example',
      '--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      '--tls-max-version=TLS1.2',
    ]);
    expect(c.peerTls).toEqual({
      certFile: '/p.crt',
      keyFile: '/p.key',
      trustedCaFile: '/ca.crt',
      clientCertAuth: true,
      allowedHostname: 'm1.example',
      crlFile: '/p.crl',
      skipClientSanVerify: true,
      clientCertFile: '/pc.crt',
      clientKeyFile: '/pc.key',
    });
    expect(c.clientTls).toEqual({
      certFile: '/c.crt',
      keyFile: '/c.key',
      trustedCaFile: '/ca.crt',
      clientCertAuth: false,
      crlFile: '/c.crl',
      allowedHostname: 'client.example',
    });
    expect(c.tlsProtocol).toEqual({
      cipherSuites: [
        'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
        'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      ],
      maxVersion: 'TLS1.2',
    });
    const auto = cfg([
      '--auto-tls',
      '--peer-auto-tls',
      '--self-signed-cert-validity=3',
      '--listen-client-urls=https://127.0.0.1:2379',
      '--advertise-client-urls=https://127.0.0.1:2379',
      '--listen-peer-urls=https://127.0.0.1:2380',
    ]);
    expect(auto.clientAutoTls).toBe(true);
    expect(auto.peerAutoTls).toBe(true);
    expect(auto.selfSignedCertValidity).toBe(3);
  });

  it("refuses TLS settings etcd refuses, with etcd's messages", () => {
    expect(() => cfg(['--cipher-suites=TLS_NOPE'])).toThrow(
      'unexpected TLS cipher suite "TLS_NOPE"',
    );
    expect(() => cfg(['--tls-min-version=TLS1.1'])).toThrow(
      'unexpected TLS version "TLS1.1" (must be one of: TLS1.2, TLS1.3)',
    );
    expect(() => cfg(['--tls-min-version=TLS1.3', '--tls-max-version=TLS1.2'])).toThrow(
      'min version (TLS1.3) is greater than max version (TLS1.2)',
    );
    expect(() =>
      cfg(['--tls-min-version=TLS1.3', '--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']),
    ).toThrow('cipher suites cannot be configured when only TLS1.3 is enabled');
    expect(() =>
      cfg([
        '--peer-cert-file=/p',
        '--peer-key-file=/k',
        '--peer-cert-allowed-cn=a',
        '--peer-cert-allowed-hostname=b',
      ]),
    ).toThrow('AllowedCN and AllowedHostname are mutually exclusive (cn="a", hostname="b")');
    expect(() => cfg(['--listen-peer-urls=https://127.0.0.1:2380'])).toThrow(
      /--peer-cert-file, --peer-key-file\) must be provided for peer url/,
    );
    expect(() => cfg(['--peer-cert-file=/p'])).toThrow(/must be given together/);
    expect(() => cfg(['--auto-tls', '--self-signed-cert-validity=0'])).toThrow(/greater than 0/);
  });

  it('refuses bad flags with a clear message', () => {
    expect(() => cfg(['--no-such-flag'])).toThrow(FlagError);
    expect(() => cfg(['--no-such-flag'])).toThrow('flag provided but not defined: -no-such-flag');
    expect(() => cfg(['--heartbeat-interval', 'abc'])).toThrow(
      'invalid value "abc" for flag -heartbeat-interval: parse error',
    );
    expect(() => cfg(['--election-timeout', '200'])).toThrow(
      /should be at least as 5 times as --heartbeat-interval/,
    );
    expect(() => cfg(['--heartbeat-interval=0'])).toThrow('--heartbeat-interval must be >0');
    expect(() => cfg(['--initial-cluster-state', 'old'])).toThrow(/initial-cluster-state/);
    expect(() =>
      cfg(['--listen-client-urls', 'localhost:2379', '--advertise-client-urls=http://a:1']),
    ).toThrow(/URL/);
    expect(() =>
      cfg([
        '--listen-client-urls',
        'https://127.0.0.1:2379',
        '--advertise-client-urls=https://127.0.0.1:2379',
      ]),
    ).toThrow(/--cert-file/);
    expect(() =>
      cfg(['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1h']),
    ).toThrow(/revision count/);
    expect(() => cfg(['--initial-cluster', 'bad'])).toThrow(/name=peer-url/);
    expect(() => cfg(['--unsafe-no-fsync=maybe'])).toThrow(
      'invalid boolean value "maybe" for -unsafe-no-fsync: parse error',
    );
    expect(() => cfg(['--bcrypt-cost', '3'])).toThrow(/between 4 and 31/);
    expect(() =>
      cfg(['--listen-client-urls', 'unix://sock:1', '--advertise-client-urls=http://a:1']),
    ).toThrow(/unix sockets are not served/);
    expect(() =>
      cfg([
        '--listen-client-urls',
        'http://example.com:2379',
        '--advertise-client-urls=http://a:1',
      ]),
    ).toThrow('expected IP in URL for binding (http://example.com:2379)');
    expect(() => cfg(['--experimental-watch-progress-notify-interval', '10'])).toThrow(
      /parse error/,
    );
    expect(() => cfg(['--experimental-watch-progress-notify-interval', '0'])).toThrow(
      /greater than 0/,
    );
    expect(() => cfg(['--listen-client-urls=http://127.0.0.1:2379'])).toThrow(
      '--advertise-client-urls is required when --listen-client-urls is set explicitly',
    );
  });

  it('refuses what etcd-ts does not do, saying why', () => {
    const refused: Array<[string[], RegExp]> = [
      [['--wal-dir=/w'], /--wal-dir is not supported by etcd-ts: the WAL lives in/],
      [['--listen-client-http-urls=http://127.0.0.1:1'], /serves no HTTP to clients/],
      [['--enable-grpc-gateway'], /serves no grpc-gateway/],
      [['--grpc-keepalive-min-time=5s'], /grpc-js cannot refuse clients that ping/],
      [['--socket-reuse-port'], /SO_REUSEPORT/],
      [['--raft-read-timeout=10s'], /fixed at etcd's minimum, 5s/],
      [['--discovery=https://discovery.etcd.io/x'], /discovery service is not implemented/],
      [['--discovery-srv=example.com'], /DNS SRV records is not implemented/],
      [['--proxy=on'], /does not run as a v2 proxy/],
      [['--listen-metrics-urls=http://127.0.0.1:2381'], /\/metrics and \/health are not served/],
      [['--experimental-corrupt-check-time=1m'], /CORRUPT alarm\) is not implemented/],
      [['--experimental-compact-hash-check-enabled'], /compaction hash check is not implemented/],
      [['--experimental-compaction-batch-limit=10'], /batches of etcd's default, 1000/],
      [['--experimental-compaction-sleep-interval=1s'], /pauses etcd's default, 10ms/],
      [['--experimental-memory-mlock'], /cannot mlock/],
      [['--experimental-bootstrap-defrag-threshold-megabytes=10'], /defragmenting at bootstrap/],
      [['--experimental-stop-grpc-service-on-defrag'], /does not report defragmentation/],
      [['--enable-log-rotation'], /log rotation is not implemented/],
      [
        ['--experimental-enable-lease-checkpoint-persist'],
        /requires experimental-enable-lease-checkpoint/,
      ],
    ];
    for (const [argv, msg] of refused) expect(() => cfg(argv), argv.join(' ')).toThrow(msg);
    // Their neutral values are accepted.
    cfg([
      '--enable-grpc-gateway=false',
      '--raft-read-timeout=5s',
      '--experimental-compaction-batch-limit=1000',
      '--experimental-enable-lease-checkpoint',
      '--experimental-enable-lease-checkpoint-persist',
      '--socket-reuse-address',
      '--discovery-fallback=exit',
    ]);
  });

  it('accepts the v2 API, v2 proxy and optional extras with a warning saying so', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--enable-v2'], /--enable-v2 is accepted but the v2 API is not served by etcd-ts/],
      [['--v2-deprecation=write-only'], /etcd-ts keeps no v2 store/],
      [['--experimental-enable-v2v3=/v2'], /the v2 API is not served/],
      [['--proxy-dial-timeout=10'], /only the v2 proxy uses it/],
      [['--experimental-backend-bbolt-freelist-type=map'], /LMDB, which has no bbolt freelist/],
      [['--cors=https://a.example'], /etcd-ts serves gRPC only/],
      [['--enable-pprof'], /nothing is served at \/debug\/pprof/],
      [['--metrics=extensive'], /no metrics are exported/],
      [['--experimental-enable-distributed-tracing'], /no spans are exported/],
      [['--logger=capnslog'], /zap's JSON lines/],
      [['--raft-write-timeout=1s'], /raft-write-timeout increased to minimum value: 5s/],
      [['--debug'], /Deprecated '--debug' flag/],
      [
        ['--peer-heartbeat-interval=5'],
        /flag "peer-heartbeat-interval" is no longer supported - ignoring\./,
      ],
    ];
    for (const [argv, msg] of cases) {
      const { warnings } = withWarnings(argv);
      expect(warnings.join('\n'), argv.join(' ')).toMatch(msg);
    }
    expect(withWarnings([]).warnings).toEqual([]);
    expect(() => cfg(['--v2-deprecation=never'])).toThrow(/valid values are/);
  });

  it('sets the log level and outputs as etcd 3.4 and 3.5 do', () => {
    expect(logSettings(parse([]))).toEqual({ level: 'info', outputs: ['default'] });
    expect(logSettings(parse(['--debug']))).toEqual({ level: 'debug', outputs: ['default'] });
    expect(logSettings(parse(['--log-outputs=stderr,/tmp/x.log']))).toEqual({
      level: 'info',
      outputs: ['stderr', '/tmp/x.log'],
    });
    expect(logSettings(parse(['--log-output=stdout']))).toEqual({
      level: 'info',
      outputs: ['stdout'],
    });
    expect(() => cfg(['--log-level=loud'])).toThrow(/unknown log-level/);
  });

  it('takes the watch progress notification interval as a Go duration', () => {
    expect(cfg([]).watchProgressNotifyIntervalMs).toBe(10 * 60 * 1000);
    expect(
      cfg(['--experimental-watch-progress-notify-interval=1.5s']).watchProgressNotifyIntervalMs,
    ).toBe(1500);
  });
});

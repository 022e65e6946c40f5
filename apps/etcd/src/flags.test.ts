import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlagError, parseFlags, toEmbedConfig } from './flags.js';

const cfg = (argv: string[], env: NodeJS.ProcessEnv = {}) => toEmbedConfig(parseFlags(argv, env));

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
    ]);
    expect(c.name).toBe('n1');
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.snapshotCount).toBe(10);
    expect(c.unsafeNoFsync).toBe(true);
    expect(c.initialCluster.get('n1')).toEqual(['http://localhost:2380']);
  });

  it('reads ETCD_* variables for flags not given', () => {
    const c = cfg(['--name', 'flag'], {
      ETCD_NAME: 'env',
      ETCD_MAX_TXN_OPS: '7',
      ETCD_DATA_DIR: '/d',
    });
    expect(c.name).toBe('flag');
    expect(c.maxTxnOps).toBe(7);
    expect(c.dataDir).toBe('/d');
  });

  it('reads a YAML --config-file and ignores flags and env then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-cfg-'));
    try {
      const file = join(dir, 'etcd.yaml');
      writeFileSync(
        file,
        'name: y1\ndata-dir: /data/y1\nlisten-client-urls: http://127.0.0.1:3379\nquota-backend-bytes: 1000000\nclient-transport-security:\n  cert-file: /c.crt\n  key-file: /c.key\n  client-cert-auth: true\n',
      );
      const c = cfg(['--config-file', file, '--name', 'ignored'], { ETCD_NAME: 'ignored' });
      expect(c.name).toBe('y1');
      expect(c.dataDir).toBe('/data/y1');
      expect(c.listenClientUrls).toEqual(['http://127.0.0.1:3379']);
      expect(c.quotaBackendBytes).toBe(1_000_000);
      expect(c.clientTls).toEqual({
        certFile: '/c.crt',
        keyFile: '/c.key',
        trustedCaFile: undefined,
        clientCertAuth: true,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad flags with a clear message', () => {
    expect(() => cfg(['--no-such-flag'])).toThrow(FlagError);
    expect(() => cfg(['--no-such-flag'])).toThrow(/unknown option '--no-such-flag'/);
    expect(() => cfg(['--heartbeat-interval', 'abc'])).toThrow(
      /invalid value "abc" for flag -heartbeat-interval/,
    );
    expect(() => cfg(['--election-timeout', '200'])).toThrow(
      /should be at least as 5 times as --heartbeat-interval/,
    );
    expect(() => cfg(['--initial-cluster-state', 'old'])).toThrow(/initial-cluster-state/);
    expect(() => cfg(['--listen-client-urls', 'localhost:2379'])).toThrow(/URL/);
    expect(() => cfg(['--listen-client-urls', 'https://127.0.0.1:2379'])).toThrow(/--cert-file/);
    expect(() =>
      cfg(['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1h']),
    ).toThrow(/revision count/);
    expect(() => cfg(['--initial-cluster', 'bad'])).toThrow(/name=peer-url/);
    expect(() => cfg(['--unsafe-no-fsync=maybe'])).toThrow(/invalid boolean value/);
    expect(() => cfg(['--bcrypt-cost', '3'])).toThrow(/between 4 and 31/);
    expect(() => cfg(['--listen-client-urls', 'unix://sock:1'])).toThrow(/only http and https/);
    expect(() => cfg(['--experimental-watch-progress-notify-interval', '10'])).toThrow(
      /invalid duration/,
    );
    expect(() => cfg(['--experimental-watch-progress-notify-interval', '0'])).toThrow(
      /greater than 0/,
    );
  });

  it('takes the watch progress notification interval as a Go duration', () => {
    expect(cfg([]).watchProgressNotifyIntervalMs).toBe(10 * 60 * 1000);
    expect(
      cfg(['--experimental-watch-progress-notify-interval=1.5s']).watchProgressNotifyIntervalMs,
    ).toBe(1500);
  });
});

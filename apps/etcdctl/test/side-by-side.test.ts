import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realEtcdAvailable } from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Normaliser,
  OUR_ETCDCTL,
  REAL_ETCDCTL_BIN,
  type RunResult,
  runCtl,
  startTwin,
  type Twin,
} from './twin.js';

const haveEtcd = realEtcdAvailable() && realEtcdAvailable(REAL_ETCDCTL_BIN);

type Args = string[] | ((side: 'real' | 'ours') => string[]);

describe.skipIf(!haveEtcd)('etcdctl prints what the real etcdctl 3.4 prints', () => {
  let twin: Twin;
  let nReal: Normaliser;
  let nOurs: Normaliser;
  let dir: string;

  beforeAll(async () => {
    twin = await startTwin();
    nReal = new Normaliser(twin.real.endpoint);
    nOurs = new Normaliser(twin.ours.endpoint);
    dir = await mkdtemp(join(tmpdir(), 'etcdctl-twin-'));
  }, 60_000);
  afterAll(async () => {
    await twin?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the same command with both etcdctls, each against its twin server. */
  async function both(
    args: Args,
    options: { stdin?: string; env?: Record<string, string>; withEndpoint?: boolean } = {},
  ): Promise<{ real: RunResult; ours: RunResult }> {
    const argv = (side: 'real' | 'ours') => {
      const a = typeof args === 'function' ? args(side) : args;
      if (options.withEndpoint === false) return a;
      const ep = side === 'real' ? twin.real.endpoint : twin.ours.endpoint;
      return [`--endpoints=${ep}`, ...a];
    };
    const [real, ours] = await Promise.all([
      runCtl(REAL_ETCDCTL_BIN, argv('real'), options),
      runCtl(OUR_ETCDCTL, argv('ours'), options),
    ]);
    return { real, ours };
  }

  function normalised(r: { real: RunResult; ours: RunResult }) {
    return {
      real: {
        stdout: nReal.apply(r.real.stdout),
        stderr: nReal.apply(r.real.stderr),
        code: r.real.code,
      },
      ours: {
        stdout: nOurs.apply(r.ours.stdout),
        stderr: nOurs.apply(r.ours.stderr),
        code: r.ours.code,
      },
    };
  }

  /** Runs both and asserts the same stdout, stderr and exit code. */
  async function same(
    args: Args,
    options: { stdin?: string; env?: Record<string, string>; also?: (s: string) => string } = {},
  ) {
    const r = await both(args, options);
    const n = normalised(r);
    if (options.also !== undefined) {
      for (const side of [n.real, n.ours]) {
        side.stdout = options.also(side.stdout);
        side.stderr = options.also(side.stderr);
      }
    }
    expect(
      n.ours,
      `etcdctl ${JSON.stringify(typeof args === 'function' ? args('ours') : args)}`,
    ).toEqual(n.real);
    return r;
  }

  it('put, get and del in every output format', async () => {
    await same(['put', 'foo', 'bar']);
    await same(['put', 'foo', 'baz', '--prev-kv']);
    await same(['put', 'foo', 'qux', '--prev-kv', '-w', 'json']);
    await same(['put', 'foo', 'quux', '--prev-kv', '-w', 'fields']);
    await same(['put', 'foo', 'corge', '-w', 'protobuf']);
    await same(['put', 'bin', '\u00ff\u0001x']);
    for (const k of ['a/1', 'a/2', 'a/3', 'b/1', 'c']) await same(['put', k, `value of ${k}`]);
    await same(['put', 'stdin-key'], { stdin: 'from stdin' });
    for (const w of ['simple', 'json', 'fields', 'protobuf']) {
      await same(['get', 'foo', '-w', w]);
      await same(['get', 'a/', '--prefix', '-w', w]);
      await same(['get', 'nothing', '-w', w]);
    }
    await same(['get', 'a/', '--prefix', '--keys-only']);
    await same(['get', 'a/', '--prefix', '--print-value-only']);
    await same(['get', 'a/', '--prefix', '--limit=2', '-w', 'json']);
    await same(['get', 'a/', '--prefix', '--sort-by=MODIFY', '--order=DESCEND']);
    await same(['get', 'a/', '--prefix', '--sort-by=value', '--order=ascend']);
    await same(['get', 'a/1', 'b']);
    await same(['get', 'b', '--from-key']);
    await same(['get', '', '--prefix', '--keys-only']);
    await same(['get', 'foo', '--rev=2']);
    await same(['get', 'foo', '--consistency=s']);
    await same(['get', 'foo', '--hex']);
    await same(['get', 'bin', '--hex', '-w', 'fields']);
    await same(['get', 'bin', '-w', 'json']);
    await same(['get', 'bin', '-w', 'fields']);
    await same(['del', 'a/1', '--prev-kv']);
    await same(['del', 'a/', '--prefix', '-w', 'json']);
    await same(['del', 'b', '--from-key', '--prev-kv', '-w', 'fields']);
    await same(['del', 'nothing']);
  });

  it('reports the same errors with the same exit codes', async () => {
    await same(['get', 'foo', '--rev=100000']);
    await same(['get']);
    await same(['get', 'a', '--prefix', '--from-key']);
    await same(['get', 'a', 'b', '--prefix']);
    await same(['get', 'a', '--consistency=x']);
    await same(['get', 'a', '--order=sideways']);
    await same(['get', 'a', '--sort-by=size']);
    await same(['get', 'a', '-w', 'table']);
    await same(['get', 'a', '-w', 'json', '--print-value-only']);
    await same(['put']);
    await same(['put', 'k', 'v', '--lease=zz']);
    await same(['put', 'k', 'v', '--lease=1234']);
    await same(['put', 'k', 'v', 'extra', '--ignore-value']);
    await same(['put', 'missing', '--ignore-value']);
    await same(['del']);
    await same(['compaction']);
    await same(['compaction', 'abc']);
    await same(['compaction', '100000']);
    await same(['lease', 'revoke', '1234']);
    await same(['lease', 'revoke', 'xyz']);
    await same(['lease', 'grant']);
    await same(['lease', 'grant', 'ten']);
    await same(['member', 'remove', '1234']);
    await same(['member', 'remove']);
    await same(['member', 'add']);
    await same(['member', 'add', 'n', 'http://127.0.0.1:1']);
    await same(['member', 'update', 'abc']);
    await same(['txn', 'extra']);
    await same(['user', 'add']);
    await same(['role', 'get', 'nobody']);
    await same(['user', 'get', 'nobody']);
    await same(['-w', 'yaml', 'get', 'foo']);
  });

  it('txn from stdin in every format, with every compare target', async () => {
    await same(['put', 't/a', '1']);
    const txn = [
      'value("t/a") = "1"',
      'ver("t/a") > "0"',
      'mod("t/a") > "1"',
      'create("t/a") != "0"',
      '',
      'put t/b "two words"',
      'get t/a',
      'del t/zzz',
      '',
      'put t/c 3',
      '',
    ].join('\n');
    await same(['txn'], { stdin: `${txn}\n` });
    await same(['txn', '-w', 'json'], { stdin: `${txn}\n` });
    await same(['txn', '-w', 'fields'], { stdin: `${txn}\n` });
    await same(['txn', '-w', 'protobuf'], { stdin: `${txn}\n` });
    await same(['txn'], { stdin: 'value("t/a") = "2"\n\nput t/x 1\n\nget t/a\nget t/b\n\n' });
    await same(['txn', '-i'], { stdin: 'value("t/a") = "1"\n\nget t/a\n\n\n' });
    await same(['txn'], { stdin: 'bogus\n\n\n\n' });
    await same(['txn'], { stdin: 'value("t/a") = "1"\n\nfrob t/a\n\n\n' });
  });

  it('compaction', async () => {
    const r = await same(['put', 'cmp', 'x', '-w', 'json']);
    const rev = Number(/"revision":(\d+)/.exec(r.real.stdout)?.[1]);
    await same(['compaction', String(rev - 1)]);
    await same(['compaction', '--physical', String(rev)]);
    await same(['get', 'cmp', `--rev=${rev - 2}`]);
  });

  it('leases: grant, list, timetolive, keep-alive --once, revoke', async () => {
    const g = await both(['lease', 'grant', '600']);
    const realId = /lease ([0-9a-f]{16})/.exec(g.real.stdout)![1]!;
    const oursId = /lease ([0-9a-f]{16})/.exec(g.ours.stdout)![1]!;
    nReal.lease(realId);
    nOurs.lease(oursId);
    expect(normalised(g).ours).toEqual(normalised(g).real);
    const id = (side: 'real' | 'ours') => (side === 'real' ? realId : oursId);
    // The remaining TTL is a timing: the twin leases were granted moments apart.
    const ttl = {
      also: (s: string) =>
        s
          .replace(/remaining\(\d+s\)/g, 'remaining(<ttl>s)')
          .replace(/"ttl":\d+/g, '"ttl":<ttl>')
          .replace(/"TTL" : \d+\n"GrantedTTL"/g, '"TTL" : <ttl>\n"GrantedTTL"'),
    };
    await same((s) => ['put', 'leased', 'v', `--lease=${id(s)}`]);
    for (const w of ['simple', 'json', 'fields']) {
      await same(['lease', 'list', '-w', w]);
      await same((s) => ['lease', 'timetolive', id(s), '--keys', '-w', w], ttl);
      await same((s) => ['lease', 'keep-alive', '--once', id(s), '-w', w]);
    }
    await same((s) => ['lease', 'timetolive', id(s)], ttl);
    await same((s) => ['lease', 'revoke', id(s), '-w', 'json']);
    await same((s) => ['lease', 'timetolive', id(s)]);
    await same((s) => ['lease', 'keep-alive', '--once', id(s)]);
    await same((s) => ['lease', 'revoke', id(s)]);
    const g2 = await both(['lease', 'grant', '100', '-w', 'json']);
    const hex = (out: string) =>
      BigInt.asUintN(64, BigInt(/"ID":(-?\d+)/.exec(out)![1]!)).toString(16);
    nReal.lease(hex(g2.real.stdout));
    nOurs.lease(hex(g2.ours.stdout));
    expect(normalised(g2).ours).toEqual(normalised(g2).real);
    await same((s) => ['lease', 'revoke', hex(s === 'real' ? g2.real.stdout : g2.ours.stdout)]);
  });

  it('member list/add/update/promote/remove', async () => {
    for (const w of ['simple', 'json', 'fields', 'table', 'protobuf'])
      await same(['member', 'list', '-w', w]);
    const add = await both([
      'member',
      'add',
      'learner1',
      '--peer-urls=http://127.0.0.1:1',
      '--learner',
    ]);
    const id = /Member ([ 0-9a-f]{16}) added/.exec(add.real.stdout)![1]!.trim();
    const oursId = /Member ([ 0-9a-f]{16}) added/.exec(add.ours.stdout)![1]!.trim();
    // Member ids hash the add's time (in seconds): map them like lease ids. The server
    // lists members by id, so the order of ETCD_INITIAL_CLUSTER follows the ids too.
    nReal.lease(id);
    nOurs.lease(oursId);
    const sortCluster = (s: string) =>
      s.replace(
        /ETCD_INITIAL_CLUSTER="([^"]*)"/,
        (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(',').sort().join(',')}"`,
      );
    const added = normalised(add);
    expect(sortCluster(added.ours.stdout)).toBe(sortCluster(added.real.stdout));
    expect([added.ours.stderr, added.ours.code]).toEqual([added.real.stderr, added.real.code]);
    const mid = (s: 'real' | 'ours') => (s === 'real' ? id : oursId);
    // The server lists members by id, and the learner's id differs between the twins:
    // compare the rows as sets.
    const rows = { also: (t: string) => t.split('\n').sort().join('\n') };
    await same(['member', 'list'], rows);
    await same(['member', 'list', '-w', 'table'], rows);
    await same((s) => ['member', 'update', mid(s), '--peer-urls=http://127.0.0.1:2']);
    await same((s) => ['member', 'promote', mid(s)]);
    await same((s) => ['member', 'remove', mid(s)]);
    await same(['member', 'list', '-w', 'json']);
  });

  it('endpoint status/hashkv/health, alarms, defrag', async () => {
    // The KV hash covers lease ids, which differ between the twin servers.
    const hash = (s: string) =>
      s
        .replace(/(<endpoint>, |"hash":|"Hash" : )\d+/g, '$1<hash>')
        .replace(/\| +\d+ \|\n/g, '| <hash> |\n')
        .replace(/-{8,}/g, '--')
        .replace(/ {2,}/g, ' ');
    // The backend file grows in steps whose timing differs between the twins: sizes
    // are normalised (table columns then differ in width only).
    const sizes = {
      also: (s: string) =>
        s
          .replace(/\d+(\.\d+)? [kMGT]?B\b/g, '<size>')
          .replace(/"(dbSize|dbSizeInUse)":\d+/g, '"$1":<size>')
          .replace(/"DBSize" : \d+/g, '"DBSize" : <size>')
          .replace(/-{8,}/g, '--')
          .replace(/ {2,}/g, ' '),
    };
    for (const w of ['simple', 'json', 'fields', 'table']) {
      await same(['endpoint', 'status', '-w', w], sizes);
      await same(['endpoint', 'hashkv', '-w', w], { also: hash });
      await same(['endpoint', 'status', '--cluster', '-w', w], sizes);
    }
    await same(['endpoint', 'health']);
    await same(['endpoint', 'health', '-w', 'json']);
    await same(['endpoint', 'health', '-w', 'fields']);
    const health = await both(['endpoint', 'health', '-w', 'table']);
    const squash = (s: string) => s.replace(/[\d.]+[µnm]?s/g, '<took>').replace(/[ -]+/g, ' ');
    expect(squash(nOurs.apply(health.ours.stdout))).toBe(squash(nReal.apply(health.real.stdout)));
    await same(['alarm', 'list']);
    await same(['alarm', 'list', '-w', 'json']);
    await same(['alarm', 'disarm']);
    await same(['defrag']);
    await same(['endpoint', 'hashkv', '--rev=3'], { also: hash });
  });

  it('users, roles and auth', async () => {
    await same(['role', 'add', 'root']);
    await same(['user', 'add', 'root:rootpw']);
    await same(['user', 'grant-role', 'root', 'root']);
    await same(['user', 'add', 'alice', '--new-user-password=pw', '-w', 'json']);
    await same(['user', 'add', 'bob', '--interactive=false'], { stdin: 'bobpw\n' });
    await same(['user', 'add', 'alice:again']);
    await same(['role', 'add', 'reader']);
    await same(['role', 'grant-permission', 'reader', 'read', 'pub/', '--prefix']);
    await same(['role', 'grant-permission', 'reader', 'readwrite', 'a', 'z']);
    await same(['role', 'grant-permission', 'reader', 'write', 'open', '--from-key']);
    await same(['role', 'grant-permission', 'reader', 'write', 'single']);
    await same(['role', 'grant-permission', 'reader', 'bogus', 'k']);
    for (const w of ['simple', 'json', 'fields']) {
      await same(['role', 'get', 'reader', '-w', w]);
      await same(['role', 'list', '-w', w]);
      await same(['user', 'list', '-w', w]);
      await same(['user', 'get', 'alice', '-w', w]);
    }
    await same(['user', 'grant-role', 'alice', 'reader']);
    await same(['user', 'get', 'alice']);
    await same(['user', 'get', 'alice', '--detail']);
    await same(['role', 'revoke-permission', 'reader', 'single']);
    await same(['role', 'revoke-permission', 'reader', 'a', 'z']);
    await same(['role', 'revoke-permission', 'reader', 'open', '--from-key']);
    await same(['role', 'revoke-permission', 'reader', 'nothing']);
    await same(['user', 'passwd', 'bob', '--interactive=false'], { stdin: 'newpw\n' });
    await same(['auth', 'enable']);
    await same(['get', 'pub/x']);
    await same(['--user=alice:pw', 'get', 'pub/x']);
    await same(['--user=alice:pw', 'put', 'pub/x', 'y']);
    await same(['--user=alice', '--password=wrong', 'get', 'pub/x']);
    // Without a password etcdctl asks for one (speakeasy also complains on stderr that
    // stdin is no terminal: only stdout and the exit code are compared here).
    const asked = normalised(await both(['--user=alice', 'get', 'pub/x'], { stdin: 'pw\n' }));
    expect([asked.ours.stdout, asked.ours.code]).toEqual([asked.real.stdout, asked.real.code]);
    await same(['--user=alice:pw', 'get', 'pub/x', '--hex=false', '--debug=false']);
    await same(['--user=root:rootpw', 'user', 'revoke-role', 'alice', 'reader']);
    await same(['--user=root:rootpw', 'user', 'delete', 'alice']);
    await same(['--user=root:rootpw', 'user', 'delete', 'bob']);
    await same(['--user=root:rootpw', 'role', 'delete', 'reader']);
    await same(['--user=root:rootpw', 'auth', 'disable']);
    await same(['auth', 'disable']);
  });

  it('snapshot status of a snapshot saved by the real etcdctl, in every format', async () => {
    const file = join(dir, 'real.db');
    const saved = await runCtl(REAL_ETCDCTL_BIN, [
      `--endpoints=${twin.real.endpoint}`,
      'snapshot',
      'save',
      file,
    ]);
    expect(saved.code).toBe(0);
    for (const w of ['simple', 'json', 'fields', 'table']) {
      await same(['snapshot', 'status', file, '-w', w], {});
    }
    await same(['snapshot', 'status', join(dir, 'missing.db')]);
    // Ours saves a snapshot the real etcdctl reads the same way.
    const ourFile = join(dir, 'ours.db');
    const ours = await runCtl(OUR_ETCDCTL, [
      `--endpoints=${twin.ours.endpoint}`,
      'snapshot',
      'save',
      ourFile,
    ]);
    expect(ours.stdout).toBe(`Snapshot saved at ${ourFile}\n`);
    expect(ours.code).toBe(0);
    const a = await runCtl(REAL_ETCDCTL_BIN, ['snapshot', 'status', ourFile, '-w', 'json']);
    const b = await runCtl(OUR_ETCDCTL, ['snapshot', 'status', ourFile, '-w', 'json']);
    expect(b).toEqual(a);
  });

  it('snapshot restore makes a data dir etcd starts from, like the real restore', async () => {
    for (let i = 0; i < 30; i++) await same(['put', `restore/${i}`, `value ${i}`]);
    const file = join(dir, 'for-restore.db');
    expect(
      (
        await runCtl(REAL_ETCDCTL_BIN, [
          `--endpoints=${twin.real.endpoint}`,
          'snapshot',
          'save',
          file,
        ])
      ).code,
    ).toBe(0);
    const restoreArgs = (target: string) => [
      'snapshot',
      'restore',
      file,
      `--data-dir=${target}`,
      '--name=restored',
      '--initial-cluster=restored=http://127.0.0.1:2390',
      '--initial-advertise-peer-urls=http://127.0.0.1:2390',
      '--initial-cluster-token=restore-test',
    ];
    const realDir = join(dir, 'restored-real');
    const oursDir = join(dir, 'restored-ours');
    const [a, b] = await Promise.all([
      runCtl(REAL_ETCDCTL_BIN, restoreArgs(realDir)),
      runCtl(OUR_ETCDCTL, restoreArgs(oursDir)),
    ]);
    expect([b.stdout, b.code]).toEqual([a.stdout, a.code]);
    // Restoring onto an existing dir fails alike.
    const again = await runCtl(OUR_ETCDCTL, restoreArgs(oursDir));
    const againReal = await runCtl(REAL_ETCDCTL_BIN, restoreArgs(oursDir));
    expect([again.code, again.stderr.split('\n').at(-2)]).toEqual([
      againReal.code,
      againReal.stderr.split('\n').at(-2),
    ]);
    // Real etcd starts from both and serves the same keys, members and revision.
    const { startEtcd } = await import('@etcd-ts/testing');
    const [ra, rb] = await Promise.all([
      startEtcd({ dataDir: realDir, name: 'restored' }),
      startEtcd({ dataDir: oursDir, name: 'restored' }),
    ]);
    try {
      for (const cmd of [
        ['get', 'restore/', '--prefix', '-w', 'json'],
        ['member', 'list', '-w', 'fields'],
        ['get', 'foo', '-w', 'json'],
      ]) {
        const [x, y] = await Promise.all([
          runCtl(REAL_ETCDCTL_BIN, [`--endpoints=${ra.endpoint}`, ...cmd]),
          runCtl(REAL_ETCDCTL_BIN, [`--endpoints=${rb.endpoint}`, ...cmd]),
        ]);
        expect(y.stdout.replaceAll(rb.endpoint.split(':')[1]!, 'PORT')).toBe(
          x.stdout.replaceAll(ra.endpoint.split(':')[1]!, 'PORT'),
        );
        expect(y.code).toBe(0);
      }
      const put = await runCtl(REAL_ETCDCTL_BIN, [
        `--endpoints=${rb.endpoint}`,
        'put',
        'after',
        'restore',
      ]);
      expect(put.stdout).toBe('OK\n');
    } finally {
      await Promise.all([ra.stop(), rb.stop()]);
    }
  });

  it('watch prints the same events (simple, json, fields, prev-kv)', async () => {
    for (const extra of [[], ['-w', 'json'], ['-w', 'fields'], ['--prev-kv'], ['--prefix', 'w/']]) {
      // The events are written first and watched from their revision on, so the
      // output does not depend on how fast each watcher starts.
      const first = await same(['put', 'w/k', '1', '-w', 'json']);
      const rev = /"revision":(\d+)/.exec(first.real.stdout)![1]!;
      await same(['put', 'w/k', '2']);
      await same(['del', 'w/k']);
      const key = extra.includes('--prefix') ? [] : ['w/k'];
      const watch = (bin: string, ep: string) =>
        new Promise<string>((resolve) => {
          const p = spawn(bin, [`--endpoints=${ep}`, 'watch', ...key, ...extra, `--rev=${rev}`], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          p.stdout.setEncoding('latin1');
          p.stdout.on('data', (c: string) => {
            out += c;
            // Three events: stop once the delete has been printed.
            if (/DELETE|"type":1|"Type" : DELETE/.test(out))
              setTimeout(() => p.kill('SIGINT'), 300);
          });
          const timer = setTimeout(() => p.kill('SIGINT'), 20_000);
          p.on('close', () => {
            clearTimeout(timer);
            resolve(out);
          });
        });
      const [a, b] = await Promise.all([
        watch(REAL_ETCDCTL_BIN, twin.real.endpoint),
        watch(OUR_ETCDCTL, twin.ours.endpoint),
      ]);
      expect(nOurs.apply(b)).toEqual(nReal.apply(a));
      expect(a).toMatch(/DELETE|"type":1/);
    }
  });

  it('interactive watch reads watch and progress lines from stdin', async () => {
    const r = await same(['put', 'wi/a', '1', '-w', 'json']);
    const rev = /"revision":(\d+)/.exec(r.real.stdout)![1]!;
    const lines = [
      `watch wi/a --rev=${rev}`,
      'bogus',
      'watch',
      `watch --prefix wi/ --rev=${rev} --prev-kv`,
      '',
    ];
    const run = (bin: string, ep: string) =>
      new Promise<{ out: string; err: string }>((resolve) => {
        const p = spawn(bin, [`--endpoints=${ep}`, 'watch', '-i'], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
        });
        p.stderr.on('data', (c: Buffer) => {
          err += c.toString();
        });
        p.stdin.write(lines.join('\n'));
        const done = () => (out.match(/wi\/a/g) ?? []).length >= 2;
        const poll = setInterval(() => {
          if (done()) {
            clearInterval(poll);
            setTimeout(() => p.kill('SIGINT'), 300);
          }
        }, 100);
        const timer = setTimeout(() => p.kill('SIGINT'), 20_000);
        p.on('close', () => {
          clearInterval(poll);
          clearTimeout(timer);
          resolve({ out, err });
        });
      });
    const [a, b] = await Promise.all([
      run(REAL_ETCDCTL_BIN, twin.real.endpoint),
      run(OUR_ETCDCTL, twin.ours.endpoint),
    ]);
    // Two watchers print concurrently: compare the lines as multisets.
    const sorted = (s: string) => s.split('\n').sort().join('\n');
    expect(sorted(b.out)).toBe(sorted(a.out));
    expect(b.err).toBe(a.err);
    expect(a.out).toContain('wi/a');
  });

  it('watch from a revision runs a command per event', async () => {
    const r = await same(['put', 'wx', 'first', '-w', 'json']);
    const rev = /"revision":(\d+)/.exec(r.real.stdout)![1]!;
    const args = [
      'watch',
      'wx',
      `--rev=${rev}`,
      '--',
      'sh',
      '-c',
      'echo "$ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"',
    ];
    const run = (bin: string, ep: string) =>
      new Promise<string>((resolve) => {
        const p = spawn(bin, [`--endpoints=${ep}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('"first"')) setTimeout(() => p.kill('SIGINT'), 300);
        });
        const timer = setTimeout(() => p.kill('SIGINT'), 20_000);
        p.on('close', () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
    const [a, b] = await Promise.all([
      run(REAL_ETCDCTL_BIN, twin.real.endpoint),
      run(OUR_ETCDCTL, twin.ours.endpoint),
    ]);
    expect(b).toBe(a);
    expect(a).toContain('"PUT" "wx" "first"');
  });

  it('honours ETCDCTL_* environment variables and --debug', async () => {
    await same(['get', 'foo'], { env: { ETCDCTL_WRITE_OUT: 'json' } });
    const r = await both(['get', 'foo', '--debug']);
    const flagLines = (s: string) =>
      s
        .split('\n')
        .filter((l) => l.startsWith('ETCDCTL_') && !l.startsWith('ETCDCTL_ENDPOINTS'))
        .join('\n');
    expect(flagLines(r.ours.stderr)).toBe(flagLines(r.real.stderr));
    expect(r.ours.stdout).toBe(r.real.stdout);
    // --debug also logs the gRPC client's connectivity, as Go's grpclog at verbosity 4.
    expect(r.real.stderr).toMatch(/Connectivity change to READY/);
    expect(r.ours.stderr).toMatch(/connectivity_state \| .* -> READY/);
    const quiet = await both(['get', 'foo']);
    expect(quiet.ours.stderr).not.toMatch(/connectivity_state/);
  });
  it('lock and elect print the holder key', async () => {
    const run = (bin: string, ep: string, args: string[]) =>
      new Promise<string>((resolve) => {
        const p = spawn(bin, [`--endpoints=${ep}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.split('\n').length >= 3) p.kill('SIGINT');
        });
        const timer = setTimeout(() => p.kill('SIGINT'), 20_000);
        p.on('close', () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
    for (const args of [
      ['lock', 'mylock'],
      ['elect', 'myelection', 'proposal'],
    ]) {
      const [a, b] = await Promise.all([
        run(REAL_ETCDCTL_BIN, twin.real.endpoint, args),
        run(OUR_ETCDCTL, twin.ours.endpoint, args),
      ]);
      const lease = /[0-9a-f]{16}/g;
      expect(b.replace(lease, '<lease>')).toBe(a.replace(lease, '<lease>'));
      expect(a).toMatch(new RegExp(`^${args[1]}/[0-9a-f]+\\n`));
    }
  });

  it('lock runs a command holding the lock; elect -l observes the leader', async () => {
    const lease = /[0-9a-f]{16}/g;
    const locked = await both(['lock', 'cmdlock', '--', 'sh', '-c', 'echo "held $ETCD_LOCK_KEY"']);
    expect(locked.ours.stdout.replace(lease, '<lease>')).toBe(
      locked.real.stdout.replace(lease, '<lease>'),
    );
    expect([locked.ours.code, locked.real.code]).toEqual([0, 0]);
    expect(locked.real.stdout).toMatch(/^held cmdlock\/[0-9a-f]+\n$/);
    await same(['put', 'obs/candidate', 'the-leader']);
    const observe = (bin: string, ep: string) =>
      new Promise<string>((resolve) => {
        const p = spawn(bin, [`--endpoints=${ep}`, 'elect', '-l', 'obs'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('the-leader')) setTimeout(() => p.kill('SIGINT'), 200);
        });
        const timer = setTimeout(() => p.kill('SIGINT'), 20_000);
        p.on('close', () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
    const [a, b] = await Promise.all([
      observe(REAL_ETCDCTL_BIN, twin.real.endpoint),
      observe(OUR_ETCDCTL, twin.ours.endpoint),
    ]);
    expect(b).toBe(a);
    expect(a).toBe('obs/candidate\nthe-leader\n');
  });
});

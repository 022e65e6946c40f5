import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdProcess, REAL_ETCDCTL_BIN, realEtcdAvailable, startEtcd } from '@etcd-ts/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN, run } from './helpers.js';

/**
 * Debian's etcdctl 3.4 drives Debian's etcd 3.4 and etcd-ts with the same commands; the
 * outputs must agree apart from ids, endpoints, timings, sizes, versions, hashes and raft
 * indexes (etcd-ts appends different internal entries, so raft indexes differ).
 */
interface Step {
  args: string[];
  stdin?: string;
  /** Kill after this long (watch runs until stopped). */
  timeoutMs?: number;
  /** Run this long after starting the command, concurrently (for watch). */
  during?: string[][];
  /** Remember the first hex id printed as LEASE, for later steps' arguments. */
  captureLease?: boolean;
  /** Wait this long first (member ids include the time in seconds). */
  delayMs?: number;
  /** Remember what the regex's first group matched in stdout as this name. */
  capture?: { name: string; re: RegExp };
}

const STEPS: Step[] = [
  { args: ['put', 'foo', 'bar'] },
  { args: ['put', 'foo2', 'bar2'] },
  { args: ['put', 'foo3', 'bar3'] },
  { args: ['put', 'zoo', 'z'] },
  { args: ['put', 'foo', 'bar-again'] },
  { args: ['get', 'foo'] },
  { args: ['get', 'foo', '--prefix'] },
  { args: ['get', 'foo', '--from-key'] },
  { args: ['get', 'foo', '--prefix', '--limit', '2'] },
  { args: ['get', 'foo', '--rev', '2'] },
  { args: ['get', 'foo', '--prefix', '--sort-by', 'MODIFY', '--order', 'DESCEND'] },
  { args: ['get', 'foo', '--prefix', '--sort-by', 'VALUE', '--order', 'ASCEND'] },
  { args: ['get', 'foo', '--prefix', '--keys-only'] },
  { args: ['get', 'foo', '--prefix', '--count-only', '-w', 'json'] },
  { args: ['get', 'foo', '-w', 'json'] },
  { args: ['get', 'foo', '--prefix', '-w', 'fields'] },
  { args: ['get', 'foo', '-w', 'table'] },
  { args: ['get', 'nothing'] },
  { args: ['get', 'foo', '--rev', '1000'] },
  { args: ['put', 'foo'] },
  { args: ['del', 'foo3', '--prev-kv'] },
  { args: ['del', 'fo', '--prefix'] },
  { args: ['del', 'nothing'] },
  { args: ['put', 'foo', 'x'] },
  {
    args: ['txn', '-w', 'json'],
    stdin: 'value("foo") = "x"\n\nput foo y\nget zoo\n\nput foo n\n\n',
  },
  { args: ['txn'], stdin: 'mod("zoo") > "0"\n\nget zoo\n\nput never x\n\n' },
  { args: ['txn'], stdin: 'value("foo") = "nope"\n\nput a 1\n\nput b 2\n\n' },
  { args: ['watch', 'foo', '--rev', '1'], timeoutMs: 3000 },
  { args: ['watch', 'fo', '--prefix', '--rev', '2', '--prev-kv'], timeoutMs: 3000 },
  {
    args: ['watch', 'w'],
    timeoutMs: 5000,
    during: [
      ['put', 'w', '1'],
      ['del', 'w'],
    ],
  },
  { args: ['member', 'list'] },
  { args: ['member', 'list', '-w', 'json'] },
  { args: ['endpoint', 'health'] },
  { args: ['endpoint', 'status'] },
  { args: ['endpoint', 'hashkv'] },
  { args: ['alarm', 'list'] },
  { args: ['alarm', 'disarm'] },
  { args: ['defrag'] },
  { args: ['compaction', '5'] },
  { args: ['compaction', '3'] },
  { args: ['compaction', '1000'] },
  { args: ['compaction', '--physical', '6'] },
  { args: ['get', 'foo', '--rev', '2'] },
  { args: ['watch', 'foo', '--rev', '2'], timeoutMs: 3000 },
  { args: ['snapshot', 'save', 'SNAPSHOT'] },
  { args: ['move-leader', '1234'] },
  { args: ['member', 'remove', '1234'] },
  { args: ['lease', 'grant', '60'], captureLease: true },
  { args: ['put', '--lease=LEASE', 'lk', 'lv'] },
  { args: ['lease', 'timetolive', 'LEASE', '--keys'] },
  { args: ['lease', 'list'] },
  { args: ['lease', 'keep-alive', '--once', 'LEASE'] },
  { args: ['lease', 'revoke', 'LEASE'] },
  { args: ['get', 'lk'] },
  { args: ['lease', 'timetolive', 'LEASE'] },
  { args: ['lease', 'revoke', 'LEASE'] },
  { args: ['put', '--lease=1234', 'lk', 'lv'] },
  { args: ['lease', 'grant', '9000000001'] },
  { args: ['member', 'list'], capture: { name: 'SELF', re: /^ *([0-9a-f]+),/ } },
  {
    args: ['member', 'add', 'n2', '--peer-urls=http://127.0.0.1:1', '--learner'],
    // etcdctl prints ids with %16x: a short id is padded with spaces, not zeros.
    capture: { name: 'LEARNER', re: /Member +([0-9a-f]+) added/ },
  },
  { args: ['member', 'add', 'n3', '--peer-urls=http://127.0.0.1:1', '--learner'], delayMs: 1100 },
  { args: ['member', 'list'] },
  { args: ['member', 'promote', 'LEARNER'] },
  { args: ['member', 'promote', 'SELF'] },
  { args: ['member', 'update', 'LEARNER', '--peer-urls=http://127.0.0.1:2'] },
  { args: ['member', 'remove', 'LEARNER'] },
  { args: ['member', 'remove', 'LEARNER'] },
  { args: ['member', 'list'] },
  { args: ['auth', 'enable'] },
  { args: ['user', 'add', 'root', '--new-user-password=rootpw'] },
  { args: ['user', 'grant-role', 'root', 'root'] },
  { args: ['role', 'add', 'reader'] },
  { args: ['role', 'add', 'reader'] },
  { args: ['role', 'grant-permission', 'reader', 'read', 'foo'] },
  { args: ['role', 'grant-permission', 'reader', '--prefix=true', 'readwrite', 'pub/'] },
  { args: ['user', 'add', 'alice', '--new-user-password=apw'] },
  { args: ['user', 'grant-role', 'alice', 'reader'] },
  { args: ['user', 'grant-role', 'alice', 'nosuchrole'] },
  { args: ['user', 'list'] },
  { args: ['role', 'list'] },
  { args: ['role', 'get', 'reader'] },
  { args: ['user', 'get', 'alice'] },
  { args: ['user', 'get', 'nobody'] },
  { args: ['auth', 'enable'] },
  { args: ['put', 'foo', 'x'] },
  { args: ['--user', 'alice:apw', 'get', 'foo'] },
  { args: ['--user', 'alice:apw', 'put', 'foo', 'y'] },
  { args: ['--user', 'alice:apw', 'put', 'pub/a', 'y'] },
  { args: ['--user', 'alice:apw', 'get', 'pub/', '--prefix'] },
  { args: ['--user', 'alice:wrong', 'get', 'foo'] },
  { args: ['--user', 'root:rootpw', 'put', 'foo', 'z'] },
  { args: ['--user', 'alice:apw', 'user', 'list'] },
  { args: ['--user', 'root:rootpw', 'role', 'revoke-permission', 'reader', 'foo'] },
  { args: ['--user', 'alice:apw', 'get', 'foo'] },
  { args: ['--user', 'root:rootpw', 'user', 'delete', 'root'] },
  { args: ['--user', 'root:rootpw', 'auth', 'disable'] },
  { args: ['user', 'delete', 'alice'] },
  { args: ['user', 'get', 'alice'] },
  { args: ['user', 'list'] },
  { args: ['role', 'delete', 'reader'] },
  { args: ['role', 'list'] },
  { args: ['get', 'foo'] },
];

function normalise(s: string): string {
  return (
    s
      // Members are listed in id order, and a new member's id depends on the time.
      .replace(
        /ETCD_INITIAL_CLUSTER="([^"]*)"/g,
        (_, v: string) => `ETCD_INITIAL_CLUSTER="${v.split(',').sort().join(',')}"`,
      )
      .replace(/127\.0\.0\.1:\d+/g, 'ENDPOINT')
      .replace(/\/tmp\/[^\s"]+/g, 'PATH')
      .replace(/\b[0-9a-f]{16}\b/g, 'ID')
      .replace(/\b[0-9a-f]{13,15}\b/g, 'ID')
      // etcdctl prints ids with %16x: a shorter id is padded with spaces.
      .replace(/ +ID\b/g, ' ID')
      .replace(/"(cluster_id|member_id|ID|leader)":\d+/g, '"$1":ID')
      .replace(
        /"(raft_term|raft_index|raftIndex|raft_applied_index|dbSize|dbSizeInUse)":\d+/g,
        '"$1":N',
      )
      .replace(/"(ClusterID|MemberID)" : \d+/g, '"$1" : ID')
      .replace(/"(RaftTerm)" : \d+/g, '"$1" : N')
      .replace(/remaining\(\d+s\)/g, 'remaining(Ns)')
      .replace(/took = [\d.]+(µs|ms|s|ns)/g, 'took = T')
      .replace(/\d+(\.\d+)? [kMG]?B\b/g, 'SIZE')
      .replace(/\b3\.\d+\.\d+\b/g, 'VERSION')
      .replace(/ENDPOINT, \d+/g, 'ENDPOINT, HASH')
  );
}

/** The lines of stderr a user reads: etcdctl's own errors, not the client library's logs. */
function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('{'))
    .map(normalise);
}

async function runAll(endpoint: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  let lease = '';
  const vars = new Map<string, string>();
  for (const step of STEPS) {
    const args = step.args.map((a) =>
      a === 'SNAPSHOT'
        ? `${dir}-snap.db`
        : a.replace('LEASE', lease).replace(/^(SELF|LEARNER)$/, (v) => vars.get(v) ?? v),
    );
    if (step.delayMs !== undefined) await new Promise((r) => setTimeout(r, step.delayMs));
    const base = ['--endpoints', endpoint, '--dial-timeout', '3s', '--command-timeout', '5s'];
    const p = run(REAL_ETCDCTL_BIN, [...base, ...args], {
      stdin: step.stdin,
      timeoutMs: step.timeoutMs,
    });
    if (step.during !== undefined) {
      await new Promise((r) => setTimeout(r, 2000));
      for (const d of step.during) await run(REAL_ETCDCTL_BIN, [...base, ...d]);
    }
    const r = await p;
    if (step.capture !== undefined)
      vars.set(step.capture.name, step.capture.re.exec(r.stdout)?.[1] ?? '');
    if (step.captureLease) lease = /lease ([0-9a-f]+) granted/.exec(r.stdout)?.[1] ?? '';
    let stdout = normalise(r.stdout);
    if (step.args[0] === 'member' && step.args[1] === 'list' && !step.args.includes('json')) {
      const lines = stdout.split('\n').filter((l) => l !== '');
      stdout = `${lines.sort().join('\n')}\n\n`;
    }
    // The exit code of a killed watch is the signal's, the same for both.
    out.push(
      `$ etcdctl ${step.args.join(' ')}\n${stdout}${errorLines(r.stderr).join('\n')}\n[exit ${step.timeoutMs === undefined ? r.code : 'killed'}]`,
    );
  }
  return out;
}

const haveReal = realEtcdAvailable();

describe.skipIf(!haveReal)('etcdctl 3.4 against etcd-ts and against etcd 3.4', () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'etcdctl-cmp-'));
    [real, ours] = await Promise.all([startEtcd(), startEtcd({ bin: ETCD_TS_BIN })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([real?.stop(), ours?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the same output with the same exit codes', async () => {
    const [want, got] = await Promise.all([
      runAll(real.endpoint, join(dir, 'real')),
      runAll(ours.endpoint, join(dir, 'ours')),
    ]);
    if (process.env.CMP_PRINT === '1') console.log(got.join('\n'));
    expect(got.join('\n')).toBe(want.join('\n'));
  }, 180_000);
});

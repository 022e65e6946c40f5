import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { findMarked, killMarked } from './procs.js';
import { LEAK_CHECK_LINE, onlyLeakCheckFailed, type RunOptions, runTest } from './run_test.js';

const dirs: string[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'e2e-run-'));
  dirs.push(d);
  return d;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed child of ours may linger as a zombie until its parent reaps it.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return !/^\d+ \(.*\) Z/.test(stat);
}

// Stands in for the compiled suite: takes its flags, behaves as FAKE_MODE says. Like the
// suite's members, its leftovers run in sessions of their own (setsid), out of its group.
const FAKE = `#!/bin/sh
name=$(printf '%s' "$1" | sed 's/^-test.run=^//; s/\\$$//')
echo "=== RUN   $name"
echo "args: $*"
echo "cwd: $(pwd)"
case "$FAKE_MODE" in
pass)
  echo "--- PASS: $name (0.00s)" ;;
leftover)
  setsid sleep 1000 &
  echo $! >> "$PIDFILE"
  # No marker variable: found by its data dir under the test's TMPDIR.
  env -u ETCD_TS_E2E_MARK setsid "$NODE" -e 'setInterval(() => {}, 1000)' -- --data-dir="$TMPDIR/testname0.etcd123" &
  echo $! >> "$PIDFILE"
  sleep 0.3
  echo "--- PASS: $name (0.30s)" ;;
fail)
  echo "    ctl_v3_test.go:174: could not start etcd process cluster"
  echo "--- FAIL: $name (0.01s)"
  exit 1 ;;
nopass)
  echo "testing: warning: no tests to run" ;;
net)
  echo "links: $(ip -o link show | wc -l) $(ip -o link show up | cut -d' ' -f2)"
  echo "--- PASS: $name (0.00s)" ;;
leak|leakonce)
  echo "--- PASS: $name (0.10s)"
  echo "PASS"
  if [ "$FAKE_MODE" = leak ] || [ ! -e "$PIDFILE.ran" ]; then
    touch "$PIDFILE.ran"
    echo "Too many goroutines running after all test(s)."
    echo "1 instances of:"
    echo "go.etcd.io/etcd/pkg/expect.(*ExpectProcess).read(...)"
    exit 1
  fi ;;
hang)
  setsid sleep 1000 &
  echo $! >> "$PIDFILE"
  sleep 1000 ;;
esac
`;

function setup(mode: string): { opts: RunOptions; pidFile: string; root: string } {
  const root = tempDir();
  const testBin = join(root, 'e2e.test');
  writeFileSync(testBin, FAKE);
  chmodSync(testBin, 0o755);
  mkdirSync(join(root, 'integration', 'fixtures'), { recursive: true });
  const pidFile = join(root, 'pids');
  return {
    root,
    pidFile,
    opts: {
      testBin,
      binDir: join(root, 'bin'),
      integrationDir: join(root, 'integration'),
      workRoot: join(root, 'work'),
      timeoutMs: 10_000,
      logFile: join(root, 'TestFake.log'),
      tailLines: 3,
      env: { FAKE_MODE: mode, PIDFILE: pidFile, NODE: process.execPath },
    },
  };
}

function pidsIn(file: string): number[] {
  const list = readFileSync(file, 'utf8').trim().split('\n').map(Number);
  pids.push(...list);
  return list;
}

describe('runTest', () => {
  it('passes the suite its flags, in a dir of its own where ../../integration is the fixtures', async () => {
    const { opts } = setup('pass');
    const v = await runTest('TestFake', { ...opts, tailLines: 10 });
    expect(v.result).toBe('pass');
    expect(v.leftovers).toBe(0);
    const log = readFileSync(opts.logFile, 'utf8');
    expect(log).toContain(
      `args: -test.run=^TestFake$ -test.v -bin-dir=${opts.binDir} -cert-dir=${opts.integrationDir}/fixtures`,
    );
    expect(log).toMatch(new RegExp(`cwd: ${opts.workRoot}/TestFake-\\w+/tests/e2e`));
    expect(v.tail.at(-1)).toBe('--- PASS: TestFake (0.00s)');
    // The test's temporary dir is gone.
    expect(findMarked({ dir: opts.workRoot })).toEqual([]);
  });

  it('kills what a test leaves behind: its marked processes and those with a data dir under its temp dir', async () => {
    const { opts, pidFile } = setup('leftover');
    const v = await runTest('TestFake', opts);
    expect(v.result).toBe('pass');
    const left = pidsIn(pidFile);
    expect(left).toHaveLength(2);
    expect(v.leftovers).toBe(2);
    for (const pid of left) expect(alive(pid)).toBe(false);
    expect(readFileSync(opts.logFile, 'utf8')).toContain('killed 2 leftover process(es)');
  });

  it('a test still running at its timeout is killed with all it started', async () => {
    const { opts, pidFile } = setup('hang');
    const started = Date.now();
    const v = await runTest('TestFake', { ...opts, timeoutMs: 1000 });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(v.result).toBe('timeout');
    expect(v.seconds).toBeGreaterThanOrEqual(1);
    for (const pid of pidsIn(pidFile)) expect(alive(pid)).toBe(false);
    expect(v.tail.at(-1)).toMatch(/killed \d leftover/);
    expect(v.tail).toContain('etcd-e2e: timed out after 1s');
  });

  it('fails on a non-zero exit, and on an exit 0 that ran no test', async () => {
    const fail = setup('fail');
    const v = await runTest('TestFake', fail.opts);
    expect(v.result).toBe('fail');
    expect(v.tail[0]).toMatch(/^cwd: /);
    expect(v.tail.slice(1)).toEqual([
      '    ctl_v3_test.go:174: could not start etcd process cluster',
      '--- FAIL: TestFake (0.01s)',
    ]);
    const none = setup('nopass');
    expect((await runTest('TestFake', none.opts)).result).toBe('fail');
  });
});

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--net', 'true']).status === 0;

describe.skipIf(!canUnshare)('runTest in a network namespace', () => {
  it('the test sees only loopback, and it is up', async () => {
    const { opts } = setup('net');
    const v = await runTest('TestFake', { ...opts, netns: true, tailLines: 10 });
    expect(v.result).toBe('pass');
    expect(v.tail).toContain('links: 1 lo:');
    expect(readFileSync(opts.logFile, 'utf8')).toContain('args: -test.run=^TestFake$ -test.v');
  });
});

describe('the suite goroutine check', () => {
  it('a test that passed but tripped the check is run again, and passes when the rerun is clean', async () => {
    const { opts } = setup('leakonce');
    const v = await runTest('TestFake', { ...opts, tailLines: 100 });
    expect(v.result).toBe('pass');
    expect(v.attempts).toBe(2);
    const log = readFileSync(opts.logFile, 'utf8');
    expect(log).toContain(LEAK_CHECK_LINE);
    expect(log).toContain('running it again');
    expect(log.match(/--- PASS: TestFake/g)).toHaveLength(2);
  });

  it('fails when the rerun trips it again; a clean pass is never rerun', async () => {
    const leak = setup('leak');
    const v = await runTest('TestFake', leak.opts);
    expect(v.result).toBe('fail');
    expect(v.attempts).toBe(2);
    const pass = setup('pass');
    expect((await runTest('TestFake', pass.opts)).attempts).toBeUndefined();
  });

  it('is recognised only after the test itself passed', () => {
    const passed = `--- PASS: TestA (1.00s)\nPASS\n${LEAK_CHECK_LINE}\n`;
    expect(onlyLeakCheckFailed('TestA', passed)).toBe(true);
    expect(onlyLeakCheckFailed('TestAB', passed)).toBe(false);
    expect(onlyLeakCheckFailed('TestA', '--- PASS: TestA (1.00s)\nFAIL\n')).toBe(false);
    expect(
      onlyLeakCheckFailed(
        'TestA',
        `--- FAIL: TestA/sub (1.00s)\n--- PASS: TestA (1.00s)\n${LEAK_CHECK_LINE}`,
      ),
    ).toBe(false);
  });
});

describe('killMarked', () => {
  it('kills a process in a session of its own found by its marker variable', async () => {
    const mark = `ETCD_TS_E2E_MARK=test${process.pid}`;
    const child = spawn('setsid', ['sleep', '1000'], {
      env: { ...process.env, ETCD_TS_E2E_MARK: `test${process.pid}` },
      stdio: 'ignore', // not detached: setsid then execs sleep in place, as the pid we know
    });
    pids.push(child.pid!);
    const exited = new Promise((r) => child.on('exit', r));
    await sleep(100);
    expect(findMarked({ env: mark })).toEqual([child.pid]);
    expect(await killMarked({ env: mark })).toEqual([child.pid]);
    await exited;
    expect(findMarked({ env: mark })).toEqual([]);
  });

  it('finds a process by its working dir, and never by a dir that merely shares a prefix', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'a'));
    mkdirSync(`${dir}-other`);
    dirs.push(`${dir}-other`);
    const inside = spawn('sleep', ['1000'], { cwd: join(dir, 'a'), stdio: 'ignore' });
    const beside = spawn('sleep', ['1000'], { cwd: `${dir}-other`, stdio: 'ignore' });
    pids.push(inside.pid!, beside.pid!);
    await sleep(100);
    expect(findMarked({ dir })).toEqual([inside.pid]);
    expect(await killMarked({ dir })).toEqual([inside.pid]);
    expect(alive(beside.pid!)).toBe(true);
  });
});

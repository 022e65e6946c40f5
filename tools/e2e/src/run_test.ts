import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { killGroup, killMarked } from './procs.js';
import { lastLines, type Result, type Verdict } from './verdict.js';

/** The variable that marks every process a test starts (see procs.ts). */
export const MARK_VAR = 'ETCD_TS_E2E_MARK';

export interface RunOptions {
  /** The compiled suite (`e2e.test`), or any executable that takes the same flags. */
  readonly testBin: string;
  /** Passed as -bin-dir: holds `etcd` and `etcdctl`. */
  readonly binDir: string;
  /**
   * The suite's `integration` dir (with `fixtures/`): passed as -cert-dir (its fixtures) and
   * linked as `../../integration` from the test's working dir, where configJWT looks for it.
   */
  readonly integrationDir: string;
  /** Where each test gets its own temporary dir. */
  readonly workRoot: string;
  /** Kill the test (its process group and every marked process) after this long. */
  readonly timeoutMs: number;
  /** The test's whole output goes to this file. */
  readonly logFile: string;
  /** How many of the output's last lines the verdict keeps. */
  readonly tailLines: number;
  /** Run the test in a network namespace of its own (the suite's ports are fixed: 20000+). */
  readonly netns?: boolean;
  /** Keep the test's temporary dir. */
  readonly keep?: boolean;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
}

/** The environment a test runs with: ours minus etcd's and etcdctl's own variables. */
function testEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ETCD_') || k.startsWith('ETCDCTL_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** The processes of the tests that are running, for an interrupted runner to kill. */
const running = new Map<number, { mark: string; dir: string }>();

/** Kills every running test and what it started (on SIGINT/SIGTERM of the runner). */
export async function killRunning(): Promise<void> {
  for (const [pgid, marks] of running) {
    killGroup(pgid);
    await killMarked({ env: `${MARK_VAR}=${marks.mark}`, dir: marks.dir }).catch(() => {});
  }
}

/** What the suite's TestMain prints when its goroutine check fails after every test passed. */
export const LEAK_CHECK_LINE = 'Too many goroutines running after all test(s).';

/**
 * Whether a failed run is only the suite's end-of-run goroutine check tripping after the test
 * passed. etcd's TestMain looks for leaked goroutines once, right after the tests, with no
 * grace period; one test per process runs that check after every test, and it now and then
 * catches the pty reader of an etcdctl the test has just closed (a race in pkg/expect, seen
 * with etcd 3.4 itself). Such a run is retried once.
 */
export function onlyLeakCheckFailed(name: string, output: string): boolean {
  return (
    output.includes(`--- PASS: ${name} `) &&
    output.includes(LEAK_CHECK_LINE) &&
    !output.includes('--- FAIL:')
  );
}

/**
 * Runs one test of the suite in a process of its own, in a fresh temporary dir (its working
 * dir, and TMPDIR, under which the suite makes every data dir), with a timeout. When the
 * test's process ends, or the timeout kills its process group, every process the test left
 * behind is killed: those of its process group, those carrying its marker variable, and
 * those with an argument or working dir under its temporary dir (the suite's etcd members).
 * A run that failed only by the suite's goroutine check is retried once (`attempts: 2`).
 */
export async function runTest(name: string, opts: RunOptions): Promise<Verdict> {
  writeFileSync(opts.logFile, '');
  let a = await attempt(name, opts);
  let attempts = 1;
  if (a.result === 'fail' && onlyLeakCheckFailed(name, a.output)) {
    appendFileSync(
      opts.logFile,
      "etcd-e2e: the test passed but the suite's goroutine check failed: running it again\n",
    );
    const first = a;
    a = await attempt(name, opts);
    a = { ...a, seconds: a.seconds + first.seconds, leftovers: a.leftovers + first.leftovers };
    attempts = 2;
  }
  return {
    result: a.result,
    seconds: Math.round(a.seconds * 1000) / 1000,
    leftovers: a.leftovers,
    ...(attempts > 1 ? { attempts } : {}),
    tail: lastLines(readFileSync(opts.logFile, 'utf8'), opts.tailLines),
  };
}

interface Attempt {
  readonly result: Result;
  readonly seconds: number;
  readonly leftovers: number;
  /** This attempt's output. */
  readonly output: string;
}

async function attempt(name: string, opts: RunOptions): Promise<Attempt> {
  mkdirSync(opts.workRoot, { recursive: true });
  const dir = mkdtempSync(join(opts.workRoot, `${name}-`));
  const cwd = join(dir, 'tests', 'e2e');
  const tmp = join(dir, 'tmp');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(tmp);
  symlinkSync(opts.integrationDir, join(dir, 'integration'));

  const mark = randomBytes(8).toString('hex');
  const args = [
    `-test.run=^${name}$`,
    '-test.v',
    `-bin-dir=${opts.binDir}`,
    `-cert-dir=${join(opts.integrationDir, 'fixtures')}`,
  ];
  const cmd = opts.netns
    ? ['unshare', '--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', opts.testBin, ...args]
    : [opts.testBin, ...args];

  const offset = statSync(opts.logFile).size;
  let out: number | undefined = openSync(opts.logFile, 'a');
  const started = performance.now();
  try {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      cwd,
      env: testEnv({ ...opts.env, TMPDIR: tmp, [MARK_VAR]: mark }),
      stdio: ['ignore', out, out],
      detached: true, // a process group of its own
    });
    const pgid = child.pid;
    if (pgid !== undefined) running.set(pgid, { mark, dir });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pgid !== undefined) killGroup(pgid);
    }, opts.timeoutMs);
    const code = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(null));
      child.on('exit', (c) => resolve(c));
    });
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    // The group first (what the test binary started outside a pty), then every marked one.
    if (pgid !== undefined) killGroup(pgid);
    const leftovers = await killMarked({ env: `${MARK_VAR}=${mark}`, dir });
    if (pgid !== undefined) running.delete(pgid);
    closeSync(out);
    out = undefined;
    const output = readFileSync(opts.logFile, 'utf8').slice(offset);
    let result: Result = timedOut ? 'timeout' : code === 0 ? 'pass' : 'fail';
    // `go test` exits 0 with "no tests to run" when the name matched nothing.
    if (result === 'pass' && !output.includes(`--- PASS: ${name} `)) result = 'fail';
    if (timedOut)
      appendFileSync(opts.logFile, `etcd-e2e: timed out after ${opts.timeoutMs / 1000}s\n`);
    if (leftovers.length > 0)
      appendFileSync(opts.logFile, `etcd-e2e: killed ${leftovers.length} leftover process(es)\n`);
    return { result, seconds, leftovers: leftovers.length, output };
  } finally {
    if (out !== undefined) closeSync(out);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENTS, makeBinDir, REPO_ROOT, resolveBin, SERVERS } from './bins.js';
import { CI_TESTS } from './ci_tests.js';
import { killRunning, runTest } from './run_test.js';
import { selectTests } from './select.js';
import { defaultCacheDir, ensureSuite, listTests } from './suite.js';
import { summaryLine, VerdictFile } from './verdict.js';

const USAGE = `usage: pnpm e2e [REGEX] [options]

Runs etcd 3.4's own end-to-end suite (tests/e2e) against a chosen etcd and etcdctl, one test
per process. REGEX (Go's -run syntax, unanchored) narrows the tests.

  --server etcd-ts|etcd|PATH     the etcd the suite starts (default etcd-ts: apps/etcd)
  --client etcdctl|etcdctl-ts|PATH
                                 the etcdctl it runs (default etcdctl: Debian's 3.4)
  --ci                           only the CI subset (src/ci_tests.ts)
  --jobs N                       tests at once (default 1)
  --netns                        require a network namespace per test (unshare --net; the
                                 default whenever root can make one): the suite's ports are
                                 fixed (20000+), so tests meet nothing else on them
  --no-netns                     run the tests in the machine's network namespace
  --timeout SECONDS              per test (default 120)
  --shard I/N                    the I-th of N interleaved parts of the selection
  --out DIR                      verdict.json and logs/ (default tools/e2e/results/<server>+<client>)
  --cache-dir DIR                where the suite is built (default ~/.cache/etcd-ts/e2e)
  --tail N                       output lines kept in each verdict (default 30)
  --list                         print the selected tests and exit
  --rebuild                      rebuild the suite even if cached
  --no-build                     do not build apps/etcd, apps/etcdctl first (turbo)
  --keep                         keep each test's temporary dir
`;

function label(value: string): string {
  return value in SERVERS || value in CLIENTS ? value : basename(value);
}

function parseShard(s: string | undefined): { index: number; count: number } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new Error(`--shard ${s}: want I/N`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${s}: want a positive integer`);
  return n;
}

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore' }).status === 0;
}

/** Builds (turbo, cached) the workspace packages whose bins are about to run. */
function buildOurs(paths: string[]): void {
  const filters: string[] = [];
  if (paths.some((p) => p.startsWith(`${join(REPO_ROOT, 'apps', 'etcd')}/`)))
    filters.push('--filter=@etcd-ts/etcd');
  if (paths.some((p) => p.startsWith(`${join(REPO_ROOT, 'apps', 'etcdctl')}/`)))
    filters.push('--filter=@etcd-ts/etcdctl');
  if (filters.length === 0) return;
  const r = spawnSync(
    'pnpm',
    ['exec', 'turbo', 'run', 'build', ...filters, '--output-logs=errors-only'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (r.status !== 0) throw new Error('building apps/etcd or apps/etcdctl failed');
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`etcd-e2e: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    return await run(parsed);
  } catch (err) {
    console.error(`etcd-e2e: ${(err as Error).message}`);
    return 1;
  }
}

function parse(argv: string[]) {
  const r = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string', default: 'etcd-ts' },
      client: { type: 'string', default: 'etcdctl' },
      ci: { type: 'boolean', default: false },
      jobs: { type: 'string', default: '1' },
      netns: { type: 'boolean', default: false },
      'no-netns': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '120' },
      shard: { type: 'string' },
      out: { type: 'string' },
      'cache-dir': { type: 'string' },
      tail: { type: 'string', default: '30' },
      list: { type: 'boolean', default: false },
      rebuild: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (r.positionals.length > 1) throw new Error(`one REGEX at most, got ${r.positionals.length}`);
  return r;
}

async function run({ values, positionals }: ReturnType<typeof parse>): Promise<number> {
  // pnpm runs the root script from the repository's root; paths the user gave are relative
  // to where they typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const jobs = positiveInt('jobs', values.jobs);
  const timeoutMs = positiveInt('timeout', values.timeout) * 1000;
  const tail = Number(values.tail);
  const shard = parseShard(values.shard);
  const regex = positionals[0] !== undefined ? new RegExp(positionals[0]) : undefined;
  // The suite binds fixed ports (20000 and up): in a network namespace of its own a test
  // meets neither another test (--jobs) nor anything else on the machine on those ports.
  const netnsWanted = values.netns || jobs > 1;
  if (values['no-netns'] && jobs > 1)
    throw new Error('--jobs above 1 needs a network namespace per test (the ports are fixed)');
  const netns = !values['no-netns'] && canUseNetns();
  if (netnsWanted && !netns)
    throw new Error(
      'a network namespace per test needs root and unshare(1): the suite binds fixed ports (20000+), so --jobs above 1 cannot run without one',
    );

  const server = resolveBin(values.server, SERVERS, cwd);
  const client = resolveBin(values.client, CLIENTS, cwd);
  const cacheDir = values['cache-dir'] ? resolve(cwd, values['cache-dir']) : defaultCacheDir();
  const suite = ensureSuite(cacheDir, undefined, {
    rebuild: values.rebuild,
    log: (l) => console.log(l),
  });
  const all = listTests(suite.testBin);
  const { selected, excluded } = selectTests(all, {
    regex,
    only: values.ci ? CI_TESTS : undefined,
    shard,
  });
  if (values.list) {
    for (const name of selected) console.log(name);
    return 0;
  }
  if (selected.length === 0) throw new Error('no test selected');

  if (!values['no-build']) buildOurs([server, client]);
  const tag = `${values.ci ? 'ci-' : ''}${label(values.server)}+${label(values.client)}`;
  const out = values.out
    ? resolve(cwd, values.out)
    : join(REPO_ROOT, 'tools', 'e2e', 'results', tag);
  const logs = join(out, 'logs');
  rmSync(logs, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const workRoot = join(tmpdir(), `etcd-ts-e2e-${process.pid}`);
  const binDir = makeBinDir(join(workRoot, 'bin'), server, client);
  const verdicts = new VerdictFile(join(out, 'verdict.json'));

  console.log(
    `etcd ${suite.etcdVersion} e2e: ${selected.length} of ${all.length} tests (${excluded.length} out of scope), server ${server}, client ${client}, ${jobs} at a time, ${timeoutMs / 1000}s each${netns ? ', a network namespace each' : ''}`,
  );
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`etcd-e2e: ${sig}: killing the running tests`);
    void killRunning().finally(() => {
      rmSync(workRoot, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  let next = 0;
  let done = 0;
  const width = String(selected.length).length;
  const worker = async () => {
    for (;;) {
      const name = selected[next++];
      if (name === undefined) return;
      const v = await runTest(name, {
        testBin: suite.testBin,
        binDir,
        integrationDir: suite.integrationDir,
        workRoot,
        timeoutMs,
        logFile: join(logs, `${name}.log`),
        tailLines: tail,
        netns,
        keep: values.keep,
      });
      verdicts.record(name, v);
      done++;
      const notes = [
        ...(v.attempts !== undefined ? ['run twice: the first tripped the goroutine check'] : []),
        ...(v.leftovers > 0 ? [`killed ${v.leftovers} leftover`] : []),
      ];
      const extra = notes.length > 0 ? ` (${notes.join('; ')})` : '';
      console.log(
        `[${String(done).padStart(width)}/${selected.length}] ${v.result.toUpperCase().padEnd(7)} ${name} ${v.seconds.toFixed(1)}s${extra}`,
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, selected.length) }, worker));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!values.keep) rmSync(workRoot, { recursive: true, force: true });
  }

  const counts = verdicts.counts();
  const failed = Object.entries(verdicts.verdicts).filter(([, v]) => v.result !== 'pass');
  if (failed.length > 0 && failed.length <= 40)
    console.log(`not passed: ${failed.map(([n, v]) => `${n} (${v.result})`).join(', ')}`);
  console.log(`verdicts: ${verdicts.path}; logs: ${logs}`);
  console.log(`time: ${Math.round((Date.now() - started) / 1000)}s`);
  console.log(summaryLine(counts));
  if (!existsSync(verdicts.path)) return 1;
  return counts.failed === 0 ? 0 : 1;
}

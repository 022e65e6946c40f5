import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AbuseResult, runAbuse } from './abuse.js';
import { DIVERGENCES } from './divergences.js';
import { Generator } from './gen.js';
import { formatOp, formatScript, type JsonObject, type Op } from './ops.js';
import {
  defaultServerBin,
  LIMITS,
  PairPool,
  REFERENCE_BIN,
  serverArgs,
  startPair,
} from './servers.js';
import { type Finding, runSequence } from './session.js';
import { shrink, simplify } from './shrink.js';

export interface FuzzOptions {
  seconds: number;
  seed: number;
  server: string;
  shrinkSeconds: number;
  maxShrinks: number;
  opsPerEpoch: number;
  /** The share of `seconds` given to raw abuse of apps/etcd (0: none). */
  abuseShare: number;
  out?: string;
  /** Shrink the reproduction in this file (as --out writes it) instead of fuzzing. */
  shrinkFile?: string;
}

const HELP = `etcd-fuzz: differential fuzzing of apps/etcd against Debian's etcd 3.4, and raw abuse

usage: etcd-fuzz [--seconds N] [--seed S] [--server PATH] [options]
       etcd-fuzz --replay FILE [--server PATH]

  --seconds N         fuzz for N seconds (default 60); shrinking comes on top
  --seed S            the seed (default: random, printed); same seed, same sequences
  --server PATH       the etcd to test (default: apps/etcd/bin/etcd)
  --shrink-seconds N  time to shrink each new divergence (default 60; 0: do not shrink)
  --max-shrinks N     shrink at most N distinct divergences (default 3)
  --ops N             ops per sequence; each runs on a fresh pair of servers (default 250)
  --abuse-share F     share of the time for raw abuse of the server (default 0.2; 0: none)
  --out DIR           write each divergence's reproduction as DIR/<n>.json (replayable)
  --replay FILE       run a reproduction (a .json from --out, or {"ops": [...]}) on both
                      servers and print every answer
  --shrink FILE       shrink a reproduction (its first divergence) for --shrink-seconds
  --list-divergences  print the documented, deliberate divergences

exit status: 0 when nothing but documented divergences was found; 1 on a crash, an
unresponsive server, or an undocumented divergence; 2 on bad usage.`;

export function parseArgs(
  argv: string[],
): FuzzOptions | { replay: string; server: string } | 'help' | 'list' {
  const o: FuzzOptions = {
    seconds: 60,
    seed: Math.floor(Math.random() * 2 ** 31),
    server: process.env.ETCD_FUZZ_SERVER ?? '',
    shrinkSeconds: 60,
    maxShrinks: 3,
    opsPerEpoch: 250,
    abuseShare: 0.2,
  };
  let replay: string | undefined;
  let shrinkFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let v: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => {
      const x = v ?? argv[++i];
      if (x === undefined) throw new UsageError(`${a} needs a value`);
      return x;
    };
    const num = () => {
      const x = Number(next());
      if (!Number.isFinite(x) || x < 0) throw new UsageError(`${a} needs a non-negative number`);
      return x;
    };
    switch (a) {
      case '--seconds':
        o.seconds = num();
        break;
      case '--seed':
        o.seed = Math.floor(num()) >>> 0;
        break;
      case '--server':
        o.server = next();
        break;
      case '--shrink-seconds':
        o.shrinkSeconds = num();
        break;
      case '--max-shrinks':
        o.maxShrinks = Math.floor(num());
        break;
      case '--ops':
        o.opsPerEpoch = Math.max(1, Math.floor(num()));
        break;
      case '--abuse-share':
        o.abuseShare = Math.min(1, num());
        break;
      case '--out':
        o.out = next();
        break;
      case '--replay':
        replay = next();
        break;
      case '--shrink':
        shrinkFile = next();
        break;
      case '--list-divergences':
        return 'list';
      case '--help':
      case '-h':
        return 'help';
      default:
        throw new UsageError(`unknown argument ${a}`);
    }
  }
  if (o.server === '') o.server = defaultServerBin();
  if (replay !== undefined) return { replay, server: o.server };
  if (shrinkFile !== undefined) o.shrinkFile = shrinkFile;
  return o;
}

class UsageError extends Error {}

/** One distinct problem: its first finding, its reproduction and how often it was seen. */
interface Problem {
  finding: Finding;
  seen: number;
  epoch: number;
  repro: Op[];
  shrunk?: { tests: number; minimal: boolean; ms: number };
}

export async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`etcd-fuzz: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (opts === 'help') {
    console.log(HELP);
    return 0;
  }
  if (opts === 'list') {
    for (const d of DIVERGENCES) {
      console.log(
        `${d.id} (${d.rpcs.join(', ')})\n  etcd 3.4: ${d.reference}\n  ours: ${d.ours}\n  why: ${d.reason}\n  upstream: ${d.upstream}\n`,
      );
    }
    return 0;
  }
  if ('replay' in opts) return replay(opts.replay, opts.server);
  if (opts.shrinkFile !== undefined) return shrinkFile(opts);
  return fuzz(opts);
}

function elapsed(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`;
}

export async function fuzz(o: FuzzOptions): Promise<number> {
  const start = Date.now();
  console.log(
    `etcd-fuzz: seed ${o.seed} (reproduce with --seed ${o.seed}), ${o.seconds} s, ${o.opsPerEpoch} ops per sequence`,
  );
  console.log(`  ours:      ${o.server}`);
  console.log(`  reference: ${REFERENCE_BIN}`);
  console.log(`  both with: ${serverArgs().join(' ')}`);
  const gen = new Generator(o.seed, { opsPerEpoch: o.opsPerEpoch });
  const pool = new PairPool(o.server);
  const stops: Promise<void>[] = [];
  const problems = new Map<string, Problem>();
  const documented = new Map<string, number>();
  let ops = 0;
  let epochs = 0;
  let shrinks = 0;
  let reported = 0;
  let startFailure: string | undefined;
  // Time spent shrinking does not count: the fuzzing and the abuse each get their share.
  let diffEnd = start + o.seconds * 1000 * (1 - o.abuseShare);

  try {
    for (let epoch = 0; Date.now() < diffEnd; epoch++) {
      const seq = gen.epoch(epoch);
      let pair: Awaited<ReturnType<PairPool['take']>>;
      try {
        pair = await pool.take();
      } catch (err) {
        startFailure = (err as Error).message.split('\n').slice(0, 12).join('\n');
        console.log(`cannot start the servers:\n${startFailure}`);
        break;
      }
      if (Date.now() >= diffEnd) {
        stops.push(pair.stop().catch(() => {}));
        break;
      }
      const res = await runSequence(pair, seq, { deadline: diffEnd });
      stops.push(pair.stop().catch(() => {}));
      ops += res.executed;
      epochs++;
      const fresh: Problem[] = [];
      for (const f of res.findings) {
        if (f.documented !== undefined) {
          documented.set(f.documented, (documented.get(f.documented) ?? 0) + 1);
          continue;
        }
        const p = problems.get(f.signature);
        if (p !== undefined) {
          p.seen++;
          continue;
        }
        const problem: Problem = { finding: f, seen: 1, epoch, repro: seq.slice(0, f.index + 1) };
        problems.set(f.signature, problem);
        fresh.push(problem);
      }
      console.log(
        `sequence ${epoch}: ${res.executed} ops${res.stoppedAt !== undefined && res.executed < seq.length ? ' (stopped early)' : ''}, ${res.findings.length} findings (${fresh.length} new) [${elapsed(start)}]`,
      );
      for (const p of fresh) {
        console.log(`  new: ${p.finding.signature}`);
        if (o.shrinkSeconds > 0 && shrinks < o.maxShrinks) {
          shrinks++;
          const t = Date.now();
          await shrinkProblem(p, pool, o.shrinkSeconds);
          diffEnd += Date.now() - t;
        }
        report(p, ++reported, o);
      }
    }
  } finally {
    await pool.close();
    await Promise.all(stops);
  }

  let abuse: AbuseResult[] = [];
  if (o.abuseShare > 0) {
    const abuseEnd = Date.now() + o.seconds * 1000 * o.abuseShare;
    try {
      abuse = await runAbuse(o.server, o.seed, abuseEnd, (l) => console.log(l));
    } catch (err) {
      startFailure = (err as Error).message.split('\n').slice(0, 12).join('\n');
      console.log(`cannot start the server for the abuse:\n${startFailure}`);
    }
  }
  const abuseFailures = abuse.filter((a) => a.failure !== undefined);
  for (const a of abuseFailures) {
    console.log(`\n=== ABUSE FAILURE: ${a.scenario}: ${a.failure}\n${a.log ?? ''}`);
  }

  const list = [...problems.values()];
  const count = (k: string) => list.filter((p) => p.finding.kind === k);
  console.log('\n=== summary');
  console.log(`seed ${o.seed}; ${ops} ops over ${epochs} sequences; ${elapsed(start)}`);
  console.log(
    `divergences: ${count('divergence').length} undocumented (seen ${count('divergence').reduce((s, p) => s + p.seen, 0)} times)`,
  );
  for (const p of list) console.log(`  ${p.seen}x ${p.finding.signature}`);
  console.log(
    `documented divergences: ${[...documented].map(([k, n]) => `${k} ${n}x`).join(', ') || 'none met'}`,
  );
  console.log(
    `crashes: ${count('crash').length} of apps/etcd, ${count('unresponsive').length} unresponsive, ${count('reference-crash').length} undocumented of etcd 3.4`,
  );
  console.log(`abuse: ${abuse.length} scenarios run, ${abuseFailures.length} failed`);
  if (startFailure !== undefined) console.log('the servers could not be started (see above)');
  const bad = list.length > 0 || abuseFailures.length > 0 || startFailure !== undefined;
  console.log(bad ? 'FAIL' : 'OK');
  return bad ? 1 : 0;
}

async function shrinkProblem(p: Problem, pool: PairPool, seconds: number): Promise<void> {
  const t0 = Date.now();
  const deadline = t0 + seconds * 1000;
  const sig = p.finding.signature;
  let last: Finding | undefined;
  let lastOps: Op[] | undefined;
  const fails = async (candidate: Op[]): Promise<boolean> => {
    let pair: Awaited<ReturnType<PairPool['take']>>;
    try {
      pair = await pool.take();
    } catch {
      return false; // no servers, no evidence either way
    }
    try {
      // Other differences on the way are no reason to stop, unless they part the stores.
      const r = await runSequence(pair, candidate, { probe: p.finding.kind === 'unresponsive' });
      const f = r.findings.find((x) => x.signature === sig && x.documented === undefined);
      if (f !== undefined) {
        last = f;
        lastOps = candidate;
      }
      return f !== undefined;
    } finally {
      void pair.stop().catch(() => {});
    }
  };
  const onTest = (size: number, failed: boolean) =>
    process.stdout.write(failed ? `${size}! ` : `${size} `);
  const res = await shrink(p.repro, fails, { deadline, onTest });
  let ops = res.items;
  let tests = res.tests;
  // Then each request of what is left: the fewest fields that still diverge.
  for (let i = 0; i < ops.length && Date.now() < deadline; i++) {
    const op = ops[i]!;
    if (op.kind !== 'call' && op.kind !== 'send') continue;
    const simpler = await simplify(
      op.req as JsonObject,
      (req) => fails(ops.map((o, j) => (j === i ? { ...op, req } : o))),
      { deadline, onTest },
    );
    tests += simpler.tests;
    ops = ops.map((o, j) => (j === i ? { ...op, req: simpler.value } : o));
    // And the token, when it makes no difference.
    if (op.kind === 'call' && op.auth !== undefined && Date.now() < deadline) {
      const { auth: _auth, ...bare } = ops[i] as typeof op;
      const without = ops.map((o, j) => (j === i ? bare : o));
      tests++;
      if (await fails(without)) ops = without;
    }
  }
  process.stdout.write('\n');
  if (
    last !== undefined &&
    lastOps !== undefined &&
    JSON.stringify(lastOps) === JSON.stringify(ops)
  ) {
    p.finding = last;
  } else if (last !== undefined) {
    // The last failing replay was not the final script: replay it once more for its answers.
    await fails(ops);
    if (last !== undefined) p.finding = last;
  }
  p.repro = ops;
  p.shrunk = { tests, minimal: res.minimal && Date.now() < deadline, ms: Date.now() - t0 };
}

function report(p: Problem, n: number, o: FuzzOptions): void {
  const f = p.finding;
  const head = {
    divergence: 'DIVERGENCE',
    crash: 'CRASH',
    unresponsive: 'UNRESPONSIVE',
    'reference-crash': 'ETCD 3.4 CRASH',
  }[f.kind];
  console.log(`\n=== ${head} #${n}: ${f.signature}`);
  console.log(
    `found in sequence ${p.epoch} of seed ${o.seed}; ${p.shrunk === undefined ? 'not shrunk' : `shrunk in ${p.shrunk.tests} replays, ${(p.shrunk.ms / 1000).toFixed(0)} s${p.shrunk.minimal ? ' (1-minimal)' : ' (budget ran out)'}`}`,
  );
  console.log(`reproduction (${p.repro.length} ops; each starts from fresh servers):`);
  console.log(formatScript(p.repro));
  console.log(`at: ${formatOp(f.op)}`);
  console.log(`  etcd 3.4: ${JSON.stringify(f.reference)}`);
  console.log(`  ours:     ${JSON.stringify(f.ours)}`);
  for (const d of f.differences.slice(0, 12)) {
    console.log(
      `  ${d.path}: etcd ${JSON.stringify(d.reference)} / ours ${JSON.stringify(d.ours)}`,
    );
  }
  if (f.log !== undefined) console.log(`log tail:\n${f.log}`);
  if (o.out !== undefined) {
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, `${n}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ seed: o.seed, sequence: p.epoch, signature: f.signature, kind: f.kind, ops: p.repro, reference: f.reference, ours: f.ours }, null, 2)}\n`,
    );
    console.log(`written to ${file} (etcd-fuzz --replay ${file})`);
  }
}

/** Shrinks the first undocumented finding of a reproduction file and prints it. */
export async function shrinkFile(o: FuzzOptions): Promise<number> {
  const parsed = JSON.parse(readFileSync(o.shrinkFile!, 'utf8')) as
    | { ops?: Op[]; signature?: string }
    | Op[];
  const ops = Array.isArray(parsed) ? parsed : (parsed.ops ?? []);
  const wanted = Array.isArray(parsed) ? undefined : parsed.signature;
  const pool = new PairPool(o.server);
  try {
    const pair = await pool.take();
    const r = await runSequence(pair, ops);
    void pair.stop().catch(() => {});
    const undocumented = r.findings.filter((x) => x.documented === undefined);
    const f = undocumented.find((x) => x.signature === wanted) ?? undocumented[0];
    if (f === undefined) {
      console.log('no undocumented divergence in this reproduction');
      return 0;
    }
    const p: Problem = { finding: f, seen: 1, epoch: -1, repro: ops.slice(0, f.index + 1) };
    console.log(`shrinking: ${f.signature}`);
    await shrinkProblem(p, pool, o.shrinkSeconds);
    report(p, 1, o);
    return 1;
  } finally {
    await pool.close();
  }
}

/** Runs a reproduction on a fresh pair and prints every op with both answers. */
export async function replay(file: string, server: string): Promise<number> {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { ops?: Op[] } | Op[];
  const ops = Array.isArray(parsed) ? parsed : (parsed.ops ?? []);
  console.log(
    `replaying ${ops.length} ops on ${REFERENCE_BIN} and ${server} (limits ${JSON.stringify(LIMITS)})`,
  );
  const pair = await startPair(server);
  try {
    let differs = false;
    for (const op of ops) {
      const [a, b] = await Promise.all([pair.reference.target.run(op), pair.ours.target.run(op)]);
      const same = JSON.stringify(a) === JSON.stringify(b);
      differs ||= !same;
      console.log(`${same ? ' ' : '≠'} ${formatOp(op)}`);
      console.log(`    etcd 3.4: ${JSON.stringify(a)}`);
      if (!same) console.log(`    ours:     ${JSON.stringify(b)}`);
      if (!pair.reference.alive()) console.log('    (etcd 3.4 exited)');
      if (!pair.ours.alive()) console.log('    (apps/etcd exited)');
      if (!pair.reference.alive() || !pair.ours.alive()) return 1;
    }
    return differs ? 1 : 0;
  } finally {
    await pair.stop();
  }
}

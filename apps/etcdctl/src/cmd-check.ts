import { randomBytes } from 'node:crypto';
import { type Client, op } from '@etcd-ts/client3';
import { type CommandSpec, group, leaf } from './command.js';
import type { Context } from './context.js';
import { errorText } from './context.js';
import { CliError, ExitCode, fail } from './errors.js';
import { goQuote } from './gofmt.js';

interface PerfLoad {
  limit: number;
  clients: number;
  duration: number;
}

/** etcdctl's workload models for `check perf` (writes/s, clients, seconds). */
const PERF_LOADS: Record<string, PerfLoad> = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
};

const DATASCALE_LOADS: Record<string, { limit: number; kvSize: number; clients: number }> = {
  s: { limit: 10_000, kvSize: 1024, clients: 50 },
  m: { limit: 100_000, kvSize: 1024, clients: 200 },
  l: { limit: 1_000_000, kvSize: 1024, clients: 500 },
  xl: { limit: 3_000_000, kvSize: 1024, clients: 1000 },
};

const ALIASES: Record<string, string> = {
  s: 's',
  small: 's',
  m: 'm',
  medium: 'm',
  l: 'l',
  large: 'l',
  xl: 'xl',
  xLarge: 'xl',
};

/**
 * A progress bar on a terminal (stderr), nothing when piped: `done / total [====>   ] p%`.
 */
class ProgressBar {
  private current = 0;
  constructor(
    private readonly ctx: Context,
    private readonly total: number,
  ) {}
  add(n = 1): void {
    this.current = Math.min(this.total, this.current + n);
    if (!this.ctx.isTTY) return;
    const width = 40;
    const filled = Math.round((this.current / this.total) * width);
    const pct = ((this.current / this.total) * 100).toFixed(2);
    this.ctx.io.err(
      `\r${this.current} / ${this.total} [${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}] ${pct}%`,
    );
  }
  finish(): void {
    if (this.ctx.isTTY) this.ctx.io.err('\n');
  }
}

/** A key under `prefix` like etcdctl's: a varint of a random int63 in a 256-byte key. */
function randomKey(prefix: string): Buffer {
  const k = Buffer.alloc(256);
  randomBytes(8).copy(k);
  return Buffer.concat([Buffer.from(prefix), k]);
}

async function ensureEmpty(client: Client, prefix: string): Promise<void> {
  const resp = await client.get(prefix, { prefix: true, limit: 1 });
  if (resp.kvs.length > 0) {
    fail(
      ExitCode.InvalidInput,
      `prefix ${goQuote(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`,
    );
  }
}

async function cleanup(
  ctx: Context,
  client: Client,
  prefix: string,
  compactAfter: boolean,
  defrag: boolean,
) {
  const d = await client.delete(prefix, { prefix: true, timeout: 30_000 });
  if (compactAfter) {
    const rev = d.header!.revision;
    ctx.io.out(`Compacting with revision ${rev}\n`);
    await client.compact(rev, { physical: true, timeout: 30_000 });
    ctx.io.out(`Compacted with revision ${rev}\n`);
  }
  if (defrag) {
    for (const ep of client.endpoints) {
      ctx.io.out(`Defragmenting ${goQuote(ep)}\n`);
      await client.maintenance.defragment({ endpoint: ep, timeout: 30_000 });
      ctx.io.out(`Defragmented ${goQuote(ep)}\n`);
    }
  }
}

async function residentMemory(ctx: Context, endpoint: string): Promise<number> {
  const url = `${endpoint.startsWith('http') ? endpoint : `http://${endpoint}`}/metrics`;
  try {
    const text = await (await fetch(url)).text();
    const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes'));
    if (line === undefined) {
      ctx.io.out('could not find: process_resident_memory_bytes\n');
      return 0;
    }
    return Number(line.slice('process_resident_memory_bytes'.length).trim());
  } catch (err) {
    ctx.io.out(`fetch error: ${errorText(err)}\n`);
    return 0;
  }
}

const loadFlags = (prefix: string) => (c: import('commander').Command) =>
  c
    .option(
      '--load <model>',
      'The workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)',
      's',
    )
    .option('--prefix <prefix>', "The prefix for writing the check's keys.", prefix)
    .option('--auto-compact', 'Compact storage with last revision after test is finished.', false)
    .option('--auto-defrag', 'Defragment storage after test is finished.', false);

export const checkCommands: CommandSpec[] = [
  group('check', 'commands for checking properties of the etcd cluster', [
    leaf(
      'perf',
      'Check the performance of the etcd cluster',
      loadFlags('/etcdctl-check-perf/'),
      async (ctx, _a, o) => {
        const model = ALIASES[String(o.load)];
        if (model === undefined) fail(ExitCode.BadFeature, `unknown load option ${String(o.load)}`);
        const cfg = PERF_LOADS[model]!;
        const prefix = String(o.prefix);
        const clients = Array.from({ length: Math.min(cfg.clients, 16) }, () => ctx.newClient());
        const first = clients[0]!;
        await ensureEmpty(first, prefix);
        const value = Buffer.alloc(1024);
        const latencies: number[] = [];
        const errors = new Map<string, number>();
        const bar = new ProgressBar(ctx, cfg.duration);
        const ticker = setInterval(() => bar.add(1), 1000);
        const started = Date.now();
        const end = started + cfg.duration * 1000;
        let issued = 0;
        const interval = 1000 / cfg.limit;
        // Each worker paces its share so the cluster sees `limit` writes per second.
        await Promise.all(
          Array.from({ length: cfg.clients }, async (_, w) => {
            const client = clients[w % clients.length]!;
            for (;;) {
              const due = started + issued * interval;
              if (due >= end) return;
              issued++;
              const wait = due - Date.now();
              if (wait > 0) await new Promise((r) => setTimeout(r, wait));
              const t0 = process.hrtime.bigint();
              try {
                await client.do(op.put(randomKey(prefix), value));
                latencies.push(Number(process.hrtime.bigint() - t0) / 1e9);
              } catch (err) {
                const k = errorText(err);
                errors.set(k, (errors.get(k) ?? 0) + 1);
              }
            }
          }),
        );
        clearInterval(ticker);
        bar.add(cfg.duration);
        bar.finish();
        const secs = (Date.now() - started) / 1000;
        await cleanup(ctx, first, prefix, o.autoCompact === true, o.autoDefrag === true);
        const rps = latencies.length / secs;
        const slowest = Math.max(0, ...latencies);
        const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
        const stddev = Math.sqrt(
          latencies.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, latencies.length),
        );
        let ok = true;
        if (errors.size > 0) {
          ctx.io.out('FAIL: too many errors\n');
          for (const [k, v] of errors) ctx.io.out(`FAIL: ERROR(${k}) -> ${v}\n`);
          ok = false;
        }
        if (rps / cfg.limit <= 0.9) {
          ctx.io.out(`FAIL: Throughput too low: ${Math.floor(rps) + 1} writes/s\n`);
          ok = false;
        } else ctx.io.out(`PASS: Throughput is ${Math.floor(rps) + 1} writes/s\n`);
        if (slowest > 0.5) {
          ctx.io.out(`Slowest request took too long: ${slowest.toFixed(6)}s\n`);
          ok = false;
        } else ctx.io.out(`PASS: Slowest request took ${slowest.toFixed(6)}s\n`);
        if (stddev > 0.1) {
          ctx.io.out(`Stddev too high: ${stddev.toFixed(6)}s\n`);
          ok = false;
        } else ctx.io.out(`PASS: Stddev is ${stddev.toFixed(6)}s\n`);
        ctx.io.out(ok ? 'PASS\n' : 'FAIL\n');
        if (!ok) throw new CliError(ExitCode.Error, '', true);
      },
    ),
    leaf(
      'datascale',
      'Check the memory usage of holding data for different workloads on a given server endpoint.',
      loadFlags('/etcdctl-check-datascale/'),
      async (ctx, _a, o) => {
        const model = ALIASES[String(o.load)];
        if (model === undefined) fail(ExitCode.BadFeature, `unknown load option ${String(o.load)}`);
        const cfg = DATASCALE_LOADS[model]!;
        const prefix = String(o.prefix);
        const eps = ctx.flags.endpoints;
        if (eps.length !== 1)
          fail(ExitCode.Error, 'multiple endpoints are not allowed for datascale check');
        const clients = Array.from({ length: Math.min(cfg.clients, 16) }, () => ctx.newClient());
        const first = clients[0]!;
        await ensureEmpty(first, prefix);
        const before = await residentMemory(ctx, eps[0]!);
        if (before === 0) {
          ctx.io.out(
            'FAIL: Could not read process_resident_memory_bytes before the put operations.\n',
          );
          throw new CliError(ExitCode.Error, '', true);
        }
        ctx.io.out(
          `Start data scale check for work load [${cfg.limit} key-value pairs, ${cfg.kvSize} bytes per key-value, ${cfg.clients} concurrent clients].\n`,
        );
        const bar = new ProgressBar(ctx, cfg.limit);
        const value = Buffer.alloc(cfg.kvSize - 256);
        const errors = new Map<string, number>();
        let next = 0;
        await Promise.all(
          Array.from({ length: cfg.clients }, async (_, w) => {
            const client = clients[w % clients.length]!;
            while (next < cfg.limit) {
              next++;
              try {
                await client.do(op.put(randomKey(prefix), value));
              } catch (err) {
                const k = errorText(err);
                errors.set(k, (errors.get(k) ?? 0) + 1);
              }
              bar.add(1);
            }
          }),
        );
        bar.finish();
        const after = await residentMemory(ctx, eps[0]!);
        await cleanup(ctx, first, prefix, o.autoCompact === true, o.autoDefrag === true);
        if (after === 0) {
          ctx.io.out(
            'FAIL: Could not read process_resident_memory_bytes after the put operations.\n',
          );
          throw new CliError(ExitCode.Error, '', true);
        }
        if (errors.size > 0) {
          ctx.io.out('FAIL: too many errors\n');
          for (const [k, v] of errors) ctx.io.out(`FAIL: ERROR(${k}) -> ${v}\n`);
          throw new CliError(ExitCode.Error, '', true);
        }
        ctx.io.out(
          `PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.\n`,
        );
      },
    ),
  ]),
];

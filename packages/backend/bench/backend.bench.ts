// Benchmarks for @etcd-ts/backend. Run: pnpm --filter @etcd-ts/backend bench
// (BACKEND_BENCH_N=100000 for a quicker pass).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend, boltSnapshotFormat } from '../src/index.js';

const N = Number(process.env.BACKEND_BENCH_N ?? 500_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-bench-'));

function measure(fn: () => void): { wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

function rate(name: string, ops: number, m: { wallMs: number; cpuMs: number }, unit: string): void {
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  console.log(
    `${name}: ${f((ops / m.wallMs) * 1000)} ${unit} wall-clock, ${f((ops / m.cpuMs) * 1000)} ${unit} per CPU-second`,
  );
}

function revKey(i: number): Buffer {
  const k = Buffer.alloc(17);
  k.writeUInt32BE(Math.floor(i / 2 ** 32), 0);
  k.writeUInt32BE(i >>> 0, 4);
  k[8] = 0x5f;
  return k;
}

async function main(): Promise<void> {
  console.log(
    `backend benchmarks: ${N.toLocaleString('en-US')} entries, node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const be = Backend.open({ path: path.join(dir, 'db') });
  const value = Buffer.alloc(300, 0x61);
  const keys = Array.from({ length: N }, (_, i) => revKey(i + 1));
  let m = measure(() => {
    for (let i = 0; i < N; i++) {
      be.lock();
      be.seqPut('key', keys[i]!, value);
      be.unlock();
    }
    be.forceCommit();
  });
  rate('seqPut + commit every 10,000 (300 B values, fsync)', N, m, 'puts/s');
  console.log(
    `  commits: ${be.commits}, file ${(be.size() / 2 ** 20).toFixed(1)} MiB, in use ${(be.sizeInUse() / 2 ** 20).toFixed(1)} MiB`,
  );
  let n = 0;
  m = measure(() => {
    for (let i = 0; i < N; i++)
      if (be.getTransient('key', keys[(i * 7919) % N]!) !== undefined) n++;
  });
  if (n !== N) throw new Error('missing keys');
  rate('getTransient (random keys)', N, m, 'gets/s');
  n = 0;
  m = measure(() => {
    be.forEach('key', () => {
      n++;
      return true;
    });
  });
  rate('forEach scan', n, m, 'entries/s');
  m = measure(() => {
    be.hash();
  });
  rate('hash', N, m, 'entries/s');
  const chunks: number[] = [];
  const t0 = performance.now();
  for await (const c of be.snapshot().chunks(boltSnapshotFormat)) chunks.push(c.length);
  const ms = performance.now() - t0;
  const bytes = chunks.reduce((a, b) => a + b, 0);
  console.log(
    `snapshot stream: ${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s (${(bytes / 2 ** 20).toFixed(1)} MiB)`,
  );
  for (let i = 0; i < N; i += 2) be.delete('key', keys[i]!);
  be.forceCommit();
  const before = be.size();
  const d0 = performance.now();
  await be.defrag();
  console.log(
    `defrag: ${(before / 2 ** 20).toFixed(1)} MiB -> ${(be.size() / 2 ** 20).toFixed(1)} MiB in ${Math.round(performance.now() - d0)} ms`,
  );
  await be.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});

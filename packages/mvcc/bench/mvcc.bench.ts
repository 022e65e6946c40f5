// Benchmarks for @etcd-ts/mvcc with their targets. Run: pnpm --filter @etcd-ts/mvcc bench
// (MVCC_BENCH_KEYS=200000 for a quicker pass). Prints one line per figure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '@etcd-ts/backend';
import { KVStore, TreeIndex, WatchableStore } from '../src/index.js';

const N = Number(process.env.MVCC_BENCH_KEYS ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-bench-'));
const file = path.join(dir, 'db');
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function report(name: string, value: number, unit: string, target?: string, ok?: boolean): void {
  const v = value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  const mark = target === undefined ? '' : ` (target ${target}: ${ok ? 'met' : 'NOT met'})`;
  console.log(`${name}: ${v} ${unit}${mark}`);
}

/** Keys "key/PPPPP/NN": 100 keys under each of N/100 prefixes. */
function keyOf(i: number): Buffer {
  const p = Math.floor(i / 100);
  return Buffer.from(`key/${String(p).padStart(5, '0')}/${String(i % 100).padStart(2, '0')}`);
}

function shuffled(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  let s = 12345;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

async function main(): Promise<void> {
  console.log(
    `mvcc benchmarks: ${N.toLocaleString('en-US')} keys, node ${process.version}, ${os.cpus().length} cpus`,
  );
  const value = Buffer.alloc(256, 0x61);
  const keys = Array.from({ length: N }, (_, i) => keyOf(i));
  const order = shuffled(N);

  // 1. Puts: each its own txn (a revision), into N distinct keys in random order; the
  // backend commits every 100 ms / 10,000 puts with fsync, as etcd's does.
  let be = Backend.open({ path: file });
  let st = new KVStore(be);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) st.put(keys[order[i]!]!, value);
  be.forceCommit();
  let ms = performance.now() - t0;
  report(
    'put (256 B values, distinct keys, fsync on commit)',
    (N / ms) * 1000,
    'puts/s',
    '>= 150,000',
    (N / ms) * 1000 >= 150_000,
  );
  const dbBytes = be.size();
  report('  backend size after puts', dbBytes / 1024 / 1024, 'MiB');

  // 2. Single-key ranges at random keys.
  const R = Math.min(N, 1_000_000);
  t0 = performance.now();
  let found = 0;
  for (let i = 0; i < R; i++) found += st.range(keys[order[(i * 7919) % N]!]!).kvs.length;
  ms = performance.now() - t0;
  if (found !== R) throw new Error(`range found ${found} of ${R}`);
  report(
    'range, single key',
    (R / ms) * 1000,
    'ranges/s',
    '>= 300,000',
    (R / ms) * 1000 >= 300_000,
  );

  // 3. 100-key prefix ranges.
  const P = Math.min(N / 100, 20_000);
  t0 = performance.now();
  let got = 0;
  for (let i = 0; i < P; i++) {
    const p = (i * 7919) % (N / 100);
    const start = Buffer.from(`key/${String(p).padStart(5, '0')}/`);
    const end = Buffer.from(start);
    end[end.length - 1]!++;
    got += st.range(start, end).kvs.length;
  }
  ms = performance.now() - t0;
  if (got !== P * 100) throw new Error(`prefix ranges found ${got}`);
  report('range, 100-key prefix', (P / ms) * 1000, 'ranges/s');
  report('  keys read through prefix ranges', ((P * 100) / ms) * 1000, 'keys/s');

  // 4. Index rebuild on open.
  await st.close();
  await be.close();
  be = Backend.open({ path: file });
  t0 = performance.now();
  st = new KVStore(be);
  ms = performance.now() - t0;
  report(
    'index rebuild on open',
    ms / 1000,
    `s for ${st.restoreStats.keys.toLocaleString('en-US')} keys`,
    '<= 3 s (1M keys)',
    ms <= 3000 * (N / 1e6),
  );
  report('  rebuild rate', (st.restoreStats.keys / ms) * 1000, 'keys/s');
  await st.close();
  await be.close();

  // 5. Heap per key of the in-memory index alone (keys inserted as the store does).
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const idx = new TreeIndex();
  for (let i = 0; i < N; i++) idx.put(keys[i]!.toString('latin1'), i + 2, 0);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  const perKey = (after - before) / N;
  report(
    'index heap per key (one revision, 14-byte keys)',
    perKey,
    'bytes',
    '<= 250',
    perKey <= 250,
  );
  if (idx.size !== N) throw new Error('index size');

  // 6. Watch fan-out: 10,000 watchers on one key, events delivered per second.
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}-lock`, { force: true });
  const wbe = Backend.open({ path: file, noSync: true });
  const ws = new WatchableStore(wbe);
  const W = 10_000;
  const streams = Array.from({ length: 100 }, () => ws.newWatchStream({ channelCapacity: 1024 }));
  for (let i = 0; i < W; i++) streams[i % 100]!.watch({ key: Buffer.from('hot') });
  const E = 200;
  let delivered = 0;
  t0 = performance.now();
  for (let i = 0; i < E; i++) {
    ws.put(Buffer.from('hot'), value);
    for (const s of streams)
      for (let r = s.tryRecv(); r !== undefined; r = s.tryRecv()) delivered += r.events.length;
  }
  ms = performance.now() - t0;
  if (delivered !== E * W) throw new Error(`delivered ${delivered} of ${E * W}`);
  report('watch fan-out (10,000 watchers on one key)', (delivered / ms) * 1000, 'events/s');
  await ws.close();
  await wbe.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});

// Put throughput and latency of one member over gRPC on loopback. The member runs in a
// child process (as in production: clients elsewhere); CONCURRENCY clients (default 16)
// write 256-byte values for BENCH_SECONDS (default 5), with fsync (the default) or
// without (BENCH_NO_FSYNC=1). BENCH_IN_PROCESS=1 runs the member in this process instead.
// Target: >= 2,000 puts/s with fsync at 16 clients on the 2-core development machine.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { etcdserverpb } from '@etcd-ts/api';
import { credentials } from '@grpc/grpc-js';
import { defaultServerConfig, startEtcd } from '../src/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const noFsync = process.env.BENCH_NO_FSYNC === '1';

async function serve(): Promise<{ address: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-ts-bench-'));
  const etcd = await startEtcd({
    ...defaultServerConfig({
      name: 'bench',
      dataDir: dir,
      initialAdvertisePeerUrls: ['http://127.0.0.1:2380'],
      unsafeNoFsync: noFsync,
    }),
    listenClientUrls: ['http://127.0.0.1:0'],
  });
  return {
    address: etcd.clientAddresses[0]!,
    close: async () => {
      await etcd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

if (process.env.BENCH_ROLE === 'server') {
  const s = await serve();
  console.log(s.address);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
} else {
  let member: { address: string; close(): Promise<void> };
  if (process.env.BENCH_IN_PROCESS === '1') member = await serve();
  else {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_ROLE: 'server' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const address = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', resolve),
    );
    member = {
      address,
      close: () =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }
  const value = Buffer.alloc(256, 7);
  const latencies: number[] = [];
  const stopAt = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      const kv = new etcdserverpb.KVClient(member.address, credentials.createInsecure());
      let i = 0;
      while (performance.now() < stopAt) {
        const t0 = performance.now();
        await new Promise<void>((resolve, reject) =>
          kv.put(
            etcdserverpb.PutRequest.fromPartial({ key: Buffer.from(`k${c}/${i++ % 1000}`), value }),
            (err) => (err ? reject(err) : resolve()),
          ),
        );
        latencies.push(performance.now() - t0);
      }
      kv.close();
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(2);
  console.log(
    `puts: ${latencies.length} in ${seconds}s = ${Math.round(latencies.length / seconds)}/s, ` +
      `fsync=${!noFsync}, clients=${concurrency}, member in ${process.env.BENCH_IN_PROCESS === '1' ? 'this' : 'a child'} process, ` +
      `p50=${pct(0.5)}ms p99=${pct(0.99)}ms`,
  );
  await member.close();
}

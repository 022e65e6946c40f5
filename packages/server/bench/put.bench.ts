// Put throughput and latency of one in-process member over gRPC on loopback:
// CONCURRENCY clients (default 16) writing 256-byte values for BENCH_SECONDS (default 5),
// with fsync (the default) or without (BENCH_NO_FSYNC=1).
// Target: >= 2,000 puts/s with fsync at 16 clients on the 2-core development machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { credentials } from '@grpc/grpc-js';
import { defaultServerConfig, startEtcd } from '../src/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const noFsync = process.env.BENCH_NO_FSYNC === '1';
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
const address = etcd.clientAddresses[0]!;
const value = Buffer.alloc(256, 7);
const latencies: number[] = [];
const stopAt = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: concurrency }, async (_, c) => {
    const kv = new etcdserverpb.KVClient(address, credentials.createInsecure());
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
    `fsync=${!noFsync}, clients=${concurrency}, p50=${pct(0.5)}ms p99=${pct(0.99)}ms`,
);
await etcd.close();
rmSync(dir, { recursive: true, force: true });

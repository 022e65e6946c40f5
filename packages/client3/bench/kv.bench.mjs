// Throughput of the client against a real etcd (ETCD_BIN, Debian's etcd 3.4 by default):
// sequential puts and gets (latency-bound) and puts with 64 in flight (client overhead
// and batching). Targets are for an idle 2-core machine; the run prints them beside the
// measured figures and exits non-zero when a target is missed.
import { startEtcd } from '@etcd-ts/testing';
import { Etcd3 } from 'etcd3';
import { Client } from '../dist/index.js';

const TARGETS = {
  'sequential put': 500,
  'sequential get': 1_000,
  'concurrent put (64 in flight)': 3_000,
  'concurrent get (64 in flight)': 5_000,
};

async function measure(name, total, concurrency, op) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await op(next++);
    }),
  );
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const rate = Math.round(total / secs);
  const target = TARGETS[name];
  if (target === undefined) {
    console.log(`${name.padEnd(32)} ${String(rate).padStart(7)} ops/s   (baseline)`);
    return true;
  }
  console.log(`${name.padEnd(32)} ${String(rate).padStart(7)} ops/s   target >= ${target}`);
  return rate >= target;
}

const etcd = await startEtcd({ args: ['--quota-backend-bytes=4294967296'] });
const client = new Client({ endpoints: [etcd.endpoint] });
const value = 'x'.repeat(256);
let ok = true;
try {
  ok = (await measure('sequential put', 2_000, 1, (i) => client.put(`bench/${i}`, value))) && ok;
  ok = (await measure('sequential get', 2_000, 1, (i) => client.get(`bench/${i}`))) && ok;
  ok =
    (await measure('concurrent put (64 in flight)', 20_000, 64, (i) =>
      client.put(`bench/${i % 5000}`, value),
    )) && ok;
  ok =
    (await measure('concurrent get (64 in flight)', 20_000, 64, (i) =>
      client.get(`bench/${i % 5000}`),
    )) && ok;
  // The npm etcd3 client on the same server, as a baseline for the client's own cost.
  const npm = new Etcd3({ hosts: etcd.clientUrl });
  await measure('etcd3 npm: concurrent put', 20_000, 64, (i) =>
    npm.put(`bench/${i % 5000}`).value(value),
  );
  await measure('etcd3 npm: concurrent get', 20_000, 64, (i) =>
    npm.get(`bench/${i % 5000}`).buffer(),
  );
  npm.close();
} finally {
  client.close();
  await etcd.stop();
}
process.exitCode = ok ? 0 : 1;

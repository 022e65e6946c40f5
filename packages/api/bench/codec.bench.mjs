// Encode/decode throughput of the generated codecs on the hottest messages:
// `pnpm --filter @etcd-ts/api bench` (after `pnpm build`).
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { etcdserverpb, mvccpb } from '../dist/index.js';

const shared = new BinaryWriter();

function bench(name, iterations, fn) {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) fn(i); // warm up
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - start);
  const heapAfter = process.memoryUsage().heapUsed;
  const perSec = Math.round(iterations / (ns / 1e9));
  process.stdout.write(
    `${name.padEnd(36)} ${perSec.toLocaleString('en-US').padStart(12)} ops/s  ${(ns / iterations).toFixed(0).padStart(6)} ns/op  heap Δ ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB\n`,
  );
}

const value = Buffer.alloc(256, 7);
const kv = mvccpb.KeyValue.fromPartial({
  key: Buffer.from('/registry/pods/default/nginx-1234'),
  createRevision: 123456,
  modRevision: 234567,
  version: 3,
  value,
  lease: 0x7a3b2c1d4e5f6071n,
});
const kvBytes = mvccpb.KeyValue.encode(kv).finish();
const put = etcdserverpb.PutRequest.fromPartial({ key: kv.key, value, lease: 0n });
const range = etcdserverpb.RangeResponse.fromPartial({
  header: { clusterId: 1n << 63n, memberId: 42n, revision: 1_000_000, raftTerm: 7 },
  kvs: Array.from({ length: 100 }, () => kv),
  count: 100,
});
const rangeBytes = etcdserverpb.RangeResponse.encode(range).finish();

const N = 500_000;
bench('KeyValue encode (256 B value)', N, () => mvccpb.KeyValue.encode(kv).finish());
bench('KeyValue decode (256 B value)', N, () => mvccpb.KeyValue.decode(kvBytes));
const { responseSerialize } = etcdserverpb.KVService.range;
bench('KeyValue encode, reused writer', N, () => mvccpb.KeyValue.encode(kv, shared).finish());
bench('RangeResponse gRPC serialize (100 kvs)', N / 100, () => responseSerialize(range));
bench('PutRequest encode', N, () => etcdserverpb.PutRequest.encode(put).finish());
bench('RangeResponse encode (100 kvs)', N / 100, () =>
  etcdserverpb.RangeResponse.encode(range).finish(),
);
bench('RangeResponse decode (100 kvs)', N / 100, () =>
  etcdserverpb.RangeResponse.decode(rangeBytes),
);

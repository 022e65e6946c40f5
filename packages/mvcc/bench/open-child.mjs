// Opens the store at argv[2] in a fresh process, as a member does when it starts, times
// the index rebuild, then times reads on the store it rebuilt; prints the figures as JSON
// (run by mvcc.bench.ts, which writes the keys and their shuffled order to argv[3] and
// argv[4]). It loads the built package (the bench script builds it first), as a server
// does: from sources, the ordering thread would spend its first half second compiling
// TypeScript.
import fs from 'node:fs';
import { Backend } from '@etcd-ts/backend';
import { KEY_BUCKET, KVStore, revToBytes } from '@etcd-ts/mvcc';

function measure(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

const [file, keysFile, orderFile] = process.argv.slice(2);
const be = Backend.open({ path: file });
let st;
const rebuild = measure(() => {
  st = new KVStore(be);
});
const out = { rebuild, stats: st.restoreStats };

const keyBytes = fs.readFileSync(keysFile);
const orderBytes = fs.readFileSync(orderFile);
const order = new Uint32Array(orderBytes.buffer, orderBytes.byteOffset, orderBytes.length / 4);
const N = order.length;
const KEY_LEN = keyBytes.length / N;
// A fresh view per operation: as in a server, the key of a request is short-lived.
const keyAt = (i) => keyBytes.subarray(i * KEY_LEN, (i + 1) * KEY_LEN);

// Single-key ranges at random keys. The keys are laid out in the order they are asked
// for, as a server finds a request's key in the bytes it has just read: gathering each
// from a random place in a 12 MB buffer would add the bench's own cache misses.
const R = Math.min(N, 1_000_000);
const asked = Buffer.allocUnsafe(R * KEY_LEN);
for (let i = 0; i < R; i++) keyAt(order[(i * 7919) % N]).copy(asked, i * KEY_LEN);
let found = 0;
out.single = measure(() => {
  for (let i = 0; i < R; i++) {
    found += st.range(asked.subarray(i * KEY_LEN, (i + 1) * KEY_LEN)).kvs.length;
  }
});
if (found !== R) throw new Error(`range found ${found} of ${R}`);
out.singleOps = R;

// What a single-key range cannot avoid, measured alone: the backend's point read of a
// random revision (an LMDB B+ tree descent into a ~300 MiB memory map, bound by cache and
// TLB misses). Revision i+2 is the i-th put's (the store starts at revision 1).
const revKey = revToBytes(0, 0);
let bytes = 0;
out.backendRead = measure(() => {
  for (let i = 0; i < R; i++) {
    revKey.writeUIntBE(((i * 7919) % N) + 2, 2, 6);
    bytes += be.getTransient(KEY_BUCKET, revKey)?.length ?? 0;
  }
});
if (bytes === 0) throw new Error('backend read found nothing');

// 100-key prefix ranges ("key/PPPPP/" holds 100 keys).
const P = Math.min(N / 100, 20_000);
let got = 0;
out.prefix = measure(() => {
  for (let i = 0; i < P; i++) {
    const start = Buffer.from(keyAt(((i * 7919) % (N / 100)) * 100).subarray(0, KEY_LEN - 2));
    const end = Buffer.from(start);
    end[end.length - 1]++;
    got += st.range(start, end).kvs.length;
  }
});
if (got !== P * 100) throw new Error(`prefix ranges found ${got}`);
out.prefixOps = P;

process.stdout.write(`${JSON.stringify(out)}\n`);
await st.close();
await be.close();

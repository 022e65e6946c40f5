// Opens the store at argv[2] in a fresh process, as a member does when it starts, and
// prints how long the index rebuild took as JSON (run by mvcc.bench.ts). It loads the
// built package (the bench script builds it first), as a server does: from sources, the
// ordering thread would spend its first half second compiling TypeScript.
import { Backend } from '@etcd-ts/backend';
import { KVStore } from '@etcd-ts/mvcc';

const be = Backend.open({ path: process.argv[2] });
const c0 = process.cpuUsage();
const t0 = performance.now();
const st = new KVStore(be);
const wallMs = performance.now() - t0;
const c = process.cpuUsage(c0);
process.stdout.write(
  `${JSON.stringify({ wallMs, cpuMs: (c.user + c.system) / 1000, stats: st.restoreStats })}\n`,
);
await st.close();
await be.close();

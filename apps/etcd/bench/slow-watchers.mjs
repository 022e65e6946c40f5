// Memory of a member while watch clients stop reading: `pnpm --filter @etcd-ts/etcd bench`
// (or `node bench/slow-watchers.mjs [etcd binary] [puts] [stuck streams]`). Each stuck
// stream watches every key written; PUTS puts of 100 KiB go by; the member's anonymous
// memory (RssAnon: not LMDB's file pages) is sampled, then one stream reads again and must
// get every event, in order.
import { readFileSync } from 'node:fs';
import { etcdserverpb as P } from '@etcd-ts/api';
import { startEtcd } from '@etcd-ts/testing';
import { credentials } from '@grpc/grpc-js';

const bin = process.argv[2] ?? new URL('../bin/etcd', import.meta.url).pathname;
const puts = Number(process.argv[3] ?? 2000);
const stuck = Number(process.argv[4] ?? 4);

async function run(watchers) {
  const e = await startEtcd({ bin, args: ['--quota-backend-bytes=8589934592'] });
  const anonMB = () =>
    Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${e.pid}/status`, 'utf8'))[1]) / 1024;
  const streams = [];
  for (let i = 0; i < watchers; i++) {
    const call = new P.WatchClient(e.endpoint, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    }).watch();
    call.on('error', () => {});
    call.write({
      createRequest: P.WatchCreateRequest.fromPartial({
        key: Buffer.from('k'),
        rangeEnd: Buffer.from('l'),
      }),
    });
    await new Promise((r) => call.once('data', r));
    call.pause(); // stops reading: the member must not hold what it cannot send
    streams.push(call);
  }
  const kv = new P.KVClient(e.endpoint, credentials.createInsecure());
  const value = Buffer.alloc(100 * 1024, 7);
  const before = anonMB();
  let peak = before;
  for (let i = 0; i < puts; i += 10) {
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, j) =>
          new Promise((res, rej) =>
            kv.put(
              P.PutRequest.fromPartial({ key: Buffer.from(`k${(i + j) % 100}`), value }),
              (err) => (err ? rej(err) : res()),
            ),
          ),
      ),
    );
    if (i % 100 === 0) peak = Math.max(peak, anonMB());
  }
  await new Promise((r) => setTimeout(r, 1000));
  peak = Math.max(peak, anonMB());
  let events = 0;
  let inOrder = true;
  let last = 0;
  if (streams[0] !== undefined) {
    streams[0].on('data', (r) => {
      for (const ev of r.events) {
        const rev = Number(ev.kv.modRevision);
        if (rev <= last) inOrder = false;
        last = rev;
        events++;
      }
    });
    streams[0].resume();
    const deadline = Date.now() + 60_000;
    while (events < puts && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  for (const s of streams) s.cancel();
  kv.close();
  await e.stop();
  return { before: Math.round(before), peak: Math.round(peak), events, inOrder };
}

const base = await run(0);
const slow = await run(stuck);
console.log(`${puts} puts of 100 KiB (${Math.round(puts / 10.24)} MiB) through ${bin}`);
console.log(`  no watcher:            anon memory ${base.before} → peak ${base.peak} MiB`);
console.log(
  `  ${stuck} streams not reading: anon memory ${slow.before} → peak ${slow.peak} MiB (+${slow.peak - base.peak} MiB for the stuck streams)`,
);
console.log(
  `  the stream that read again got ${slow.events} of ${puts} events, in order: ${slow.inOrder}`,
);

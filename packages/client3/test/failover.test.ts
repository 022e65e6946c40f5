import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, compare, EtcdError, op, type WatchResponse } from '../src/index.js';
import { startCluster, type TestCluster } from './cluster.js';
import { haveEtcd, text } from './etcd.js';

describe.skipIf(!haveEtcd)('failover in a 3-member real etcd cluster', () => {
  let cluster: TestCluster;
  let client: Client;
  beforeAll(async () => {
    cluster = await startCluster(3);
    client = new Client({ endpoints: cluster.endpoints, dialTimeout: 3_000 });
  }, 90_000);
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  it('keeps serving reads, writes and a watch while each member in turn is killed and restarted', async () => {
    const watcher = client.watch('fo/', { prefix: true });
    const received: WatchResponse[] = [];
    const consumed = (async () => {
      for await (const r of watcher) received.push(r);
    })();
    await new Promise((r) => setTimeout(r, 300));

    let written = 0;
    // A write that fails with Unavailable (the leader died under it) may or may not
    // have been applied: the client does not replay it, the application decides. Here
    // it retries under a guard, so each key is written exactly once either way.
    const write = async () => {
      const key = `fo/${written}`;
      for (let attempt = 0; ; attempt++) {
        try {
          await client
            .txn({ timeout: 15_000 })
            .if(compare.version(key, '=', 0))
            .then(op.put(key, `${written}`))
            .commit();
          break;
        } catch (err) {
          if (!(err instanceof EtcdError) || err.code !== 14 || attempt > 20) throw err;
        }
      }
      written++;
    };
    for (let i = 0; i < 5; i++) await write();
    for (const m of cluster.members) {
      // Killing whichever member the watch stream and the calls use forces both
      // to fail over; the other two keep a quorum.
      await cluster.kill(m.name);
      for (let i = 0; i < 5; i++) await write();
      const got = await client.get('fo/', { prefix: true, countOnly: true, timeout: 15_000 });
      expect(got.count).toBe(written);
      await cluster.restart(m.name);
      for (let i = 0; i < 3; i++) await write();
    }

    const deadline = Date.now() + 20_000;
    const count = () => received.reduce((n, r) => n + r.events.length, 0);
    while (count() < written && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    watcher.cancel();
    await consumed;
    const events = received.flatMap((r) => r.events);
    // Every write exactly once, in order: no gap and no duplicate across resumes.
    expect(events.map((e) => text(e.kv?.key))).toEqual(
      Array.from({ length: written }, (_, i) => `fo/${i}`),
    );
    const revisions = events.map((e) => e.kv?.modRevision ?? 0);
    expect(revisions.every((r, i) => i === 0 || r > revisions[i - 1]!)).toBe(true);
  }, 180_000);
});

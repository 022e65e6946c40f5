import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Election, ErrElectionNoLeader, ErrLocked, Mutex, runSTM, Session } from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

const tick = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!haveEtcd)('concurrency against a real etcd', () => {
  let f: Fixture;
  let npm: Etcd3;
  beforeAll(async () => {
    f = await startFixture();
    npm = new Etcd3({ hosts: f.etcd.clientUrl });
  });
  afterAll(async () => {
    npm?.close();
    await f?.stop();
  });

  it('sessions keep their lease alive and revoke it on close', async () => {
    const s = await Session.create(f.client, { ttl: 2 });
    await f.client.put('sess/k', 'v', { lease: s.lease });
    await tick(3_000);
    expect((await f.client.get('sess/k')).count).toBe(1);
    await s.close();
    await s.done;
    expect((await f.client.get('sess/k')).count).toBe(0);
  });

  it('mutex: waiters queue in order under <prefix>/<lease hex>; tryLock refuses', async () => {
    const s1 = await Session.create(f.newClient());
    const s2 = await Session.create(f.newClient());
    const m1 = new Mutex(s1, 'locks/a');
    const m2 = new Mutex(s2, 'locks/a');
    await m1.lock();
    expect(m1.key).toBe(`locks/a/${s1.lease.toString(16)}`);
    await expect(new Mutex(s2, 'locks/a').tryLock()).rejects.toBeInstanceOf(ErrLocked);
    const order: string[] = [];
    const second = m2.lock().then(() => order.push('m2'));
    await tick();
    order.push('m1 unlock');
    await m1.unlock();
    await second;
    expect(order).toEqual(['m1 unlock', 'm2']);
    const guarded = await f.client.txn().if(m2.isOwner()).then().commit();
    expect(guarded.succeeded).toBe(true);
    await m2.unlock();
    await s1.close();
    await s2.close();
  });

  it('mutex interoperates with the npm etcd3 lock on the same keys', async () => {
    // etcd3 holds a key under our prefix: our mutex queues behind it.
    const held = await npm.lock('locks/b/npm-holder').ttl(30).acquire();
    const s = await Session.create(f.newClient());
    const m = new Mutex(s, 'locks/b');
    let acquired = false;
    const waiting = m.lock().then(() => {
      acquired = true;
    });
    await tick(500);
    expect(acquired).toBe(false);
    await held.release();
    await waiting;
    expect(acquired).toBe(true);
    // And while we hold our key, etcd3 cannot lock it.
    await expect(npm.lock(m.key).acquire()).rejects.toThrow(/Failed to acquire a lock/);
    await m.unlock();
    await s.close();
  });

  it('election: campaign, proclaim, observe, resign', async () => {
    const s1 = await Session.create(f.newClient());
    const s2 = await Session.create(f.newClient());
    const e1 = new Election(s1, 'elect/x');
    const e2 = new Election(s2, 'elect/x');
    await expect(e1.leader()).rejects.toBeInstanceOf(ErrElectionNoLeader);
    await e1.campaign('one');
    const ac = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const { kv } of e2.observe(ac.signal)) {
        seen.push(text(kv.value)!);
        if (seen.length === 3) ac.abort();
      }
    })().catch(() => undefined);
    const observed = async (n: number) => {
      for (let i = 0; seen.length < n && i < 200; i++) await tick(50);
    };
    let e2Won = false;
    const campaign2 = e2.campaign('two').then(() => {
      e2Won = true;
    });
    await observed(1);
    await tick();
    expect(e2Won).toBe(false);
    await e1.proclaim('one-again');
    await observed(2);
    await e1.resign();
    await campaign2;
    expect(text((await e1.leader()).kvs[0]?.value)).toBe('two');
    await observing;
    expect(seen).toEqual(['one', 'one-again', 'two']);
    await e2.resign();
    await s1.close();
    await s2.close();
  });

  it('election interoperates with the npm etcd3 election on the same keys', async () => {
    // etcd3 keeps its candidates under election/<name>/; ours under <prefix>/.
    const npmElection = npm.election('shared');
    const npmCampaign = npmElection.campaign('npm');
    await new Promise<void>((resolve, reject) => {
      npmCampaign.once('elected', () => resolve());
      npmCampaign.once('error', reject);
    });
    const s = await Session.create(f.newClient());
    const ours = new Election(s, 'election/shared');
    expect(text((await ours.leader()).kvs[0]?.value)).toBe('npm');
    let won = false;
    const running = ours.campaign('ts').then(() => {
      won = true;
    });
    await tick(500);
    expect(won).toBe(false);
    await npmCampaign.resign();
    await running;
    expect(won).toBe(true);
    expect(await npmElection.leader()).toBe('ts');
    await ours.resign();
    await s.close();
  });

  it.each(['serializable-snapshot', 'serializable', 'repeatable-read'] as const)(
    'STM (%s) keeps a counter consistent under concurrent increments',
    async (isolation) => {
      const key = `stm/${isolation}`;
      await f.client.put(key, '0');
      const clients = [f.newClient(), f.newClient(), f.newClient()];
      await Promise.all(
        clients.flatMap((c) =>
          Array.from({ length: 5 }, () =>
            runSTM(
              c,
              (stm) => {
                stm.put(key, String(Number(stm.get(key)) + 1));
              },
              { isolation },
            ),
          ),
        ),
      );
      expect(text((await f.client.get(key)).kvs[0]?.value)).toBe('15');
    },
  );

  it('STM read-committed applies without conflict checks', async () => {
    await f.client.put('stm/rc/a', '1');
    const r = await runSTM(
      f.client,
      (stm) => {
        stm.put('stm/rc/b', stm.get('stm/rc/a'));
        stm.del('stm/rc/a');
      },
      { isolation: 'read-committed' },
    );
    expect(r.succeeded).toBe(true);
    expect(text((await f.client.get('stm/rc/b')).kvs[0]?.value)).toBe('1');
    expect((await f.client.get('stm/rc/a')).count).toBe(0);
  });
});

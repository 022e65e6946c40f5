import { type EtcdProcess, startCluster, startEtcd } from '@etcd-ts/testing';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

/** The npm etcd3 client, unchanged, against the etcd-ts executable over plain text. */
describe('npm etcd3 client', () => {
  let etcd: EtcdProcess;
  let client: Etcd3;
  beforeAll(async () => {
    // ETCD3_AGAINST_REAL=1 runs the same suite against Debian's etcd 3.4, to check the test.
    etcd = await startEtcd(process.env.ETCD3_AGAINST_REAL === '1' ? {} : { bin: ETCD_TS_BIN });
    client = new Etcd3({ hosts: etcd.clientUrl });
  });
  afterAll(async () => {
    client.close();
    await etcd.stop();
  });

  it('puts, gets, ranges and deletes', async () => {
    await client.put('fruit/apple').value('red');
    await client.put('fruit/banana').value('yellow');
    await client.put('fruit/cherry').value('dark red');
    expect(await client.get('fruit/apple').string()).toBe('red');
    expect(await client.getAll().prefix('fruit/').strings()).toEqual({
      'fruit/apple': 'red',
      'fruit/banana': 'yellow',
      'fruit/cherry': 'dark red',
    });
    expect(await client.getAll().prefix('fruit/').limit(2).keys()).toEqual([
      'fruit/apple',
      'fruit/banana',
    ]);
    expect(await client.getAll().prefix('fruit/').count()).toBe(3);
    await client.delete().key('fruit/banana');
    expect(await client.get('fruit/banana').string()).toBeNull();
    const deleted = await client.delete().prefix('fruit/').getPrevious();
    expect(deleted.map((kv) => kv.key.toString())).toEqual(['fruit/apple', 'fruit/cherry']);
  });

  it('runs transactions', async () => {
    await client.put('tx').value('1');
    const ok = await client
      .if('tx', 'Value', '==', '1')
      .then(client.put('tx').value('2'))
      .else(client.put('tx').value('x'))
      .commit();
    expect(ok.succeeded).toBe(true);
    const no = await client.if('tx', 'Value', '==', '1').then(client.put('tx').value('3')).commit();
    expect(no.succeeded).toBe(false);
    expect(await client.get('tx').string()).toBe('2');
  });

  it('watches puts and deletes', async () => {
    const watcher = await client.watch().prefix('w/').create();
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      watcher.on('put', (kv) => {
        seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`);
      });
      watcher.on('delete', (kv) => {
        seen.push(`delete ${kv.key.toString()}`);
        resolve();
      });
    });
    await client.put('w/a').value('1');
    await client.put('w/b').value('2');
    await client.delete().key('w/a');
    await done;
    await watcher.cancel();
    expect(seen).toEqual(['put w/a=1', 'put w/b=2', 'delete w/a']);
  });

  it('grants leases, keeps them alive and revokes them', async () => {
    const lease = client.lease(3);
    await lease.put('leased').value('v');
    const id = await lease.grant();
    expect(await client.get('leased').string()).toBe('v');
    await lease.keepaliveOnce();
    const ttl = await client.lease(1, { autoKeepAlive: false }); // a second, short lease
    await ttl.grant();
    await lease.revoke();
    expect(await client.get('leased').string()).toBeNull();
    expect(typeof id).toBe('string');
    await ttl.revoke();
  });

  it('locks, elects and runs STM transactions', async () => {
    // etcd3's lock is a try-lock: a second acquire fails while the first holds it.
    const held = await client.lock('the-lock').ttl(5).acquire();
    await expect(client.lock('the-lock').acquire()).rejects.toThrow(/Failed to acquire a lock/);
    await held.release();
    const again = await client.lock('the-lock').acquire();
    await again.release();

    const election = client.election('leader');
    const campaign = election.campaign('me');
    await new Promise<void>((resolve, reject) => {
      campaign.on('elected', () => resolve());
      campaign.on('error', reject);
    });
    expect(await election.leader()).toBe('me');
    await campaign.resign();

    await client.put('acct/a').value('100');
    await client.put('acct/b').value('0');
    // etcd3's Isolation is a const enum (not importable here); 2 = RepeatableReads.
    await client.stm({ isolation: 2 as never }).transact(async (tx) => {
      const a = Number(await tx.get('acct/a').string());
      const bal = Number(await tx.get('acct/b').string());
      await tx.put('acct/a').value(String(a - 30));
      await tx.put('acct/b').value(String(bal + 30));
    });
    expect(await client.getAll().prefix('acct/').strings()).toEqual({
      'acct/a': '70',
      'acct/b': '30',
    });
  });

  it('manages users and roles and enforces their permissions once auth is on', async () => {
    const root = await client.user('root').create('rootpw');
    await root.addRole('root');
    const reader = await client.role('reader').create();
    await reader.grant({ permission: 'Read', range: client.range({ prefix: 'shared/' }) });
    const alice = await client.user('alice').create('alicepw');
    await alice.addRole('reader');
    expect((await client.getUsers()).map((u) => u.name).sort()).toEqual(['alice', 'root']);
    // The root role is implicit: granting it does not create it, so it is not listed.
    expect((await client.getRoles()).map((r) => r.name).sort()).toEqual(['reader']);
    expect((await alice.roles()).map((r) => r.name)).toEqual(['reader']);
    await client.put('shared/doc').value('v1');

    const rootClient = new Etcd3({
      hosts: etcd.clientUrl,
      auth: { username: 'root', password: 'rootpw' },
    });
    const aliceClient = new Etcd3({
      hosts: etcd.clientUrl,
      auth: { username: 'alice', password: 'alicepw' },
    });
    try {
      await client.auth.authEnable({});
      expect(await aliceClient.get('shared/doc').string()).toBe('v1');
      await expect(aliceClient.put('shared/doc').value('v2')).rejects.toThrow(/permission denied/);
      await expect(aliceClient.get('private').string()).rejects.toThrow(/permission denied/);
      const wrong = new Etcd3({
        hosts: etcd.clientUrl,
        auth: { username: 'alice', password: 'nope' },
      });
      await expect(wrong.get('shared/doc').string()).rejects.toThrow(/authentication failed/);
      wrong.close();
      await rootClient.put('shared/doc').value('v3');
      expect(await aliceClient.get('shared/doc').string()).toBe('v3');
    } finally {
      await rootClient.auth.authDisable({});
      rootClient.close();
      aliceClient.close();
    }
    await client.user('alice').delete();
    await client.role('reader').delete();
    expect((await client.getUsers()).map((u) => u.name)).toEqual(['root']);
  });
});

/** The npm etcd3 client fails over to another member of an etcd-ts cluster when its own dies. */
describe('npm etcd3 client and a three-member cluster', () => {
  it('keeps writing and reading while the member it talks to is killed', async () => {
    const cluster = await startCluster({
      bin: process.env.ETCD3_AGAINST_REAL === '1' ? undefined : ETCD_TS_BIN,
      size: 3,
      args: ['--heartbeat-interval=50', '--election-timeout=500'],
    });
    const client = new Etcd3({
      hosts: cluster.members.map((m) => `http://${m.endpoint}`),
      dialTimeout: 2000,
    });
    try {
      for (let i = 0; i < 10; i++) await client.put(`e/${i}`).value(`${i}`);
      for (const m of cluster.members) {
        await cluster.kill(m);
        // etcd3 retries an unavailable host on the next one; a write that failed under
        // the kill has an unknown outcome, so each key is written until it is there.
        for (let i = 0; i < 5; i++) {
          const key = `e/${m.name}/${i}`;
          for (let attempt = 0; ; attempt++) {
            try {
              await client.put(key).value('1');
              break;
            } catch (err) {
              if (attempt > 20) throw err;
            }
          }
        }
        expect(await client.getAll().prefix(`e/${m.name}/`).count()).toBe(5);
        await cluster.restart(m);
      }
      expect(await client.getAll().prefix('e/').count()).toBe(25);
    } finally {
      client.close();
      await cluster.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrLeaseNotFound, type EtcdError } from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

describe.skipIf(!haveEtcd)('leases against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('grants, attaches keys, reports time to live with keys, lists and revokes', async () => {
    const g = await f.client.lease.grant(60);
    expect(g.TTL).toBe(60);
    expect(g.ID).toBeTypeOf('bigint');
    await f.client.put('lk/1', 'a', { lease: g.ID });
    const ttl = await f.client.lease.timeToLive(g.ID, { keys: true });
    expect(ttl.grantedTTL).toBe(60);
    expect(ttl.TTL).toBeGreaterThan(55);
    expect(ttl.keys.map((k) => text(k))).toEqual(['lk/1']);
    const all = await f.client.lease.leases();
    expect(all.leases.map((l) => l.ID)).toContain(g.ID);
    await f.client.lease.revoke(g.ID);
    expect((await f.client.get('lk/1')).count).toBe(0);
    expect((await f.client.lease.timeToLive(g.ID)).TTL).toBe(-1);
    await expect(f.client.lease.revoke(g.ID)).rejects.toBeInstanceOf(ErrLeaseNotFound);
  });

  it('grants with a chosen id (ids use all 64 bits)', async () => {
    const id = 0x7fff_ffff_ffff_fff0n;
    const g = await f.client.lease.grant(30, { id });
    expect(g.ID).toBe(id);
    await f.client.lease.revoke(id);
  });

  it('keepAliveOnce renews and fails for a missing lease', async () => {
    const g = await f.client.lease.grant(10);
    const r = await f.client.lease.keepAliveOnce(g.ID);
    expect(r.ID).toBe(g.ID);
    expect(r.TTL).toBe(10);
    await f.client.lease.revoke(g.ID);
    await expect(f.client.lease.keepAliveOnce(g.ID)).rejects.toBeInstanceOf(ErrLeaseNotFound);
  });

  it('keepAlive keeps a short lease past its TTL and reports its loss on revoke', async () => {
    const g = await f.client.lease.grant(2);
    await f.client.put('ka', 'x', { lease: g.ID });
    const ka = f.client.lease.keepAlive(g.ID);
    const first = await ka.next();
    expect(first.value?.TTL).toBe(2);
    await new Promise((r) => setTimeout(r, 3_500));
    expect((await f.client.get('ka')).count).toBe(1);
    await f.client.lease.revoke(g.ID);
    const why = await ka.lost;
    expect(why).toBeInstanceOf(ErrLeaseNotFound);
    // Renewals buffered before the loss are still delivered, then the loss is thrown.
    const end = await (async () => {
      for await (const _ of ka);
    })().catch((e: EtcdError) => e);
    expect(end).toBeInstanceOf(ErrLeaseNotFound);
  });

  it('lets a lease expire after keepAlive is closed', async () => {
    const g = await f.client.lease.grant(1);
    const ka = f.client.lease.keepAlive(g.ID);
    await ka.next();
    ka.close();
    expect((await ka.next()).done).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await f.client.lease.timeToLive(g.ID)).TTL).toBe(-1);
  });
});

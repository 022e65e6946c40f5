import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ErrCanceled, ErrDeadlineExceeded } from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

const settle = () => new Promise((r) => setTimeout(r, 300));
const resources = () =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;

describe.skipIf(!haveEtcd)('client lifecycle and auth tokens against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    // Simple tokens that expire after one idle second, to exercise the refresh.
    f = await startFixture(['--auth-token-ttl=1']);
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('close() ends watchers and keep-alives and leaves no socket or timer behind', async () => {
    await settle();
    const before = resources();
    const c = new Client({ endpoints: [f.etcd.endpoint] });
    await c.put('life', '1');
    const w = c.watch('life');
    const g = await c.lease.grant(5);
    const ka = c.lease.keepAlive(g.ID);
    await ka.next();
    const ended = (async () => {
      for await (const _ of w);
      return 'ended';
    })();
    c.close();
    expect(await ended).toBe('ended');
    expect((await ka.next()).done).toBe(true);
    await expect(c.get('life')).rejects.toBeInstanceOf(ErrCanceled);
    await settle();
    expect(resources()).toBeLessThanOrEqual(before);
  });

  it('fails with ErrDeadlineExceeded when no endpoint answers within the dial timeout', async () => {
    const c = new Client({ endpoints: ['127.0.0.1:1'], dialTimeout: 300 });
    const started = Date.now();
    await expect(c.get('x')).rejects.toBeInstanceOf(ErrDeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(3_000);
    c.close();
  });

  it('re-authenticates transparently when the server says the token is invalid', async () => {
    await f.client.auth.userAdd('root', 'pw');
    await f.client.auth.userGrantRole('root', 'root').catch(async () => {
      await f.client.auth.roleAdd('root');
      await f.client.auth.userGrantRole('root', 'root');
    });
    await f.client.auth.authEnable();
    const root = f.newClient({ username: 'root', password: 'pw' });
    try {
      await root.put('tok', '1');
      // The token expires after a second without use; the next call gets
      // "etcdserver: invalid auth token", logs in again and succeeds.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(text((await root.get('tok')).kvs[0]?.value)).toBe('1');
      await new Promise((r) => setTimeout(r, 2_500));
      const rev = (await root.put('tok', '2')).header!.revision;
      // A watch stream opened with a stale token is re-opened with a fresh one.
      await new Promise((r) => setTimeout(r, 2_500));
      const w = root.watch('tok', { startRevision: rev });
      const it = w[Symbol.asyncIterator]();
      expect(text((await it.next()).value?.events[0]?.kv?.value)).toBe('2');
      w.cancel();
    } finally {
      await root.auth.authDisable();
    }
  });
});

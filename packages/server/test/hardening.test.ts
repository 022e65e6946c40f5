import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { b, call, type Member, startMember } from './helpers.js';

const P = etcdserverpb;
let m: Member | undefined;
afterEach(async () => {
  await m?.close();
  m = undefined;
});

async function withRootAndAuth(member: Member) {
  const a = new P.AuthClient(member.address, credentials.createInsecure());
  await call(a.userAdd, a, P.AuthUserAddRequest.fromPartial({ name: 'root', password: 'pw' }));
  await call(a.userGrantRole, a, { user: 'root', role: 'root' });
  await call(a.authEnable, a, {});
  const { token } = await call(a.authenticate, a, { name: 'root', password: 'pw' });
  return { a, token };
}

describe('requests that must not cost the member work or leak', () => {
  it('refuses a user add from a client without root before hashing or proposing anything', async () => {
    m = await startMember();
    const { a } = await withRootAndAuth(m);
    const before = await call(m.maintenance.status, m.maintenance, {});
    await expect(
      call(a.userAdd, a, P.AuthUserAddRequest.fromPartial({ name: 'x', password: 'secret' })),
    ).rejects.toMatchObject({ details: 'etcdserver: user name is empty' });
    await expect(
      call(a.userChangePassword, a, { name: 'root', password: 'other', hashedPassword: '' }),
    ).rejects.toMatchObject({ details: 'etcdserver: user name is empty' });
    const after = await call(m.maintenance.status, m.maintenance, {});
    // Nothing went through raft for either refusal.
    expect(after.raftIndex).toBe(before.raftIndex);
    a.close();
  });

  it('never writes a clear password to the WAL, even sent beside a hash', async () => {
    m = await startMember();
    const { a, token } = await withRootAndAuth(m);
    const hashed = Buffer.from(
      '$2a$04$0123456789012345678901uuuuuuuuuuuuuuuuuuuuuuuuuuuuuu',
    ).toString('base64');
    await call(
      a.userAdd,
      a,
      P.AuthUserAddRequest.fromPartial({
        name: 'both',
        password: 'plain-text-never-logged',
        hashedPassword: hashed,
      }),
      token,
    );
    const walDir = join(m.dir, 'member', 'wal');
    for (const f of readdirSync(walDir))
      expect(readFileSync(join(walDir, f)).includes(b('plain-text-never-logged'))).toBe(false);
    a.close();
  });
});

describe('lease time-to-live with keys (CVE-2023-32082)', () => {
  it("refuses to list a lease's keys to a user who may not read them", async () => {
    m = await startMember();
    const { a, token } = await withRootAndAuth(m);
    await call(
      a.userAdd,
      a,
      P.AuthUserAddRequest.fromPartial({ name: 'u', password: 'upw' }),
      token,
    );
    await call(a.roleAdd, a, { name: 'r' }, token);
    await call(a.userGrantRole, a, { user: 'u', role: 'r' }, token);
    await call(
      a.roleGrantPermission,
      a,
      { name: 'r', perm: { permType: 0, key: b('pub/'), rangeEnd: b('pub0') } },
      token,
    );
    const lease = await call(m.lease.leaseGrant, m.lease, { TTL: 60, ID: 0n }, token);
    await call(
      m.kv.put,
      m.kv,
      P.PutRequest.fromPartial({ key: b('secret/1'), value: b('x'), lease: lease.ID }),
      token,
    );
    const { token: ut } = await call(a.authenticate, a, { name: 'u', password: 'upw' });
    await expect(
      call(m.lease.leaseTimeToLive, m.lease, { ID: lease.ID, keys: true }, ut),
    ).rejects.toMatchObject({ details: 'etcdserver: permission denied' });
    // Without the keys, or as root, it answers.
    const plain = await call(m.lease.leaseTimeToLive, m.lease, { ID: lease.ID, keys: false }, ut);
    expect(plain.grantedTTL).toBe(60);
    const root = await call(m.lease.leaseTimeToLive, m.lease, { ID: lease.ID, keys: true }, token);
    expect(root.keys.map((k) => Buffer.from(k).toString())).toEqual(['secret/1']);
    a.close();
  });
});

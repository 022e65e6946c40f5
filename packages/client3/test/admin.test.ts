import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  ErrAuthFailed,
  ErrMemberNotFound,
  ErrPermissionDenied,
  ErrRoleNotFound,
  ErrUserAlreadyExist,
} from '../src/index.js';
import { type Fixture, haveEtcd, startFixture, text } from './etcd.js';

describe.skipIf(!haveEtcd)('cluster, maintenance and auth against a real etcd', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('lists, adds (as learner), updates and removes members', async () => {
    const list = await f.client.cluster.memberList();
    expect(list.members).toHaveLength(1);
    expect(list.members[0]!.clientURLs).toEqual([f.etcd.clientUrl]);
    const added = await f.client.cluster.memberAdd(['http://127.0.0.1:1'], { isLearner: true });
    expect(added.member?.isLearner).toBe(true);
    const id = added.member!.ID;
    await f.client.cluster.memberUpdate(id, ['http://127.0.0.1:2']);
    const after = await f.client.cluster.memberList();
    expect(after.members.find((m) => m.ID === id)?.peerURLs).toEqual(['http://127.0.0.1:2']);
    const promote = await f.client.cluster.memberPromote(id).catch((e: Error) => e);
    expect((promote as Error).message).toBe(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );
    await f.client.cluster.memberRemove(id);
    await expect(f.client.cluster.memberRemove(id)).rejects.toBeInstanceOf(ErrMemberNotFound);
  });

  it('reports status, hashes, alarms, defragments and streams a snapshot', async () => {
    await f.client.put('snap', 'shot');
    const status = await f.client.maintenance.status({ endpoint: f.etcd.endpoint });
    expect(status.version).toMatch(/^3\./);
    expect(status.leader).toBe(status.header?.memberId);
    const h = await f.client.maintenance.hashKV();
    expect(h.hash).toBeGreaterThan(0);
    expect((await f.client.maintenance.hash()).hash).toBeGreaterThan(0);
    expect((await f.client.maintenance.alarmList()).alarms).toEqual([]);
    expect((await f.client.maintenance.alarmDisarm()).alarms).toEqual([]);
    await f.client.maintenance.defragment();
    const stream = await f.client.maintenance.snapshot();
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const snapshot = Buffer.concat(chunks);
    // A bbolt file (magic 0xED0CDAED at offset 16) followed by a 32-byte sha256.
    expect(snapshot.readUInt32LE(16)).toBe(0xed0cdaed);
    expect(snapshot.length % 4096).toBe(32);
    const body = snapshot.subarray(0, snapshot.length - 32);
    expect(createHash('sha256').update(body).digest().equals(snapshot.subarray(-32))).toBe(true);
    await f.client.maintenance.moveLeader(status.leader).catch(() => undefined);
  });

  it('manages users and roles and authenticates with token refresh', async () => {
    const a = f.client.auth;
    await a.userAdd('root', 'rootpw');
    await a.roleAdd('root');
    await a.userGrantRole('root', 'root');
    await a.userAdd('alice', 'pw');
    await expect(a.userAdd('alice', 'pw')).rejects.toBeInstanceOf(ErrUserAlreadyExist);
    await a.roleAdd('reader');
    await a.roleGrantPermission('reader', 'read', 'pub/', 'pub0');
    await a.userGrantRole('alice', 'reader');
    expect((await a.userGet('alice')).roles).toEqual(['reader']);
    expect((await a.userList()).users).toEqual(['alice', 'root']);
    expect((await a.roleList()).roles).toEqual(['reader', 'root']);
    const perm = (await a.roleGet('reader')).perm[0]!;
    expect([perm.permType, text(perm.key), text(perm.rangeEnd)]).toEqual([0, 'pub/', 'pub0']);
    await expect(a.roleGet('nobody')).rejects.toBeInstanceOf(ErrRoleNotFound);
    await f.client.put('pub/x', 'visible');
    await a.authEnable();
    try {
      const alice = f.newClient({ username: 'alice', password: 'pw' });
      expect(text((await alice.get('pub/x')).kvs[0]?.value)).toBe('visible');
      await expect(alice.put('pub/x', 'no')).rejects.toBeInstanceOf(ErrPermissionDenied);
      const wrong = f.newClient({ username: 'alice', password: 'bad' });
      await expect(wrong.get('pub/x')).rejects.toBeInstanceOf(ErrAuthFailed);
      const root = f.newClient({ username: 'root', password: 'rootpw' });
      // AuthStatus exists from etcd 3.5 on; 3.4 answers Unimplemented.
      const status = await root.auth.authStatus().catch((e: Error) => e);
      if (!(status instanceof Error)) expect(status.enabled).toBe(true);
      await root.auth.userChangePassword('alice', 'pw2');
      // alice's old token stays valid for simple tokens; a new client needs the new password.
      const alice2 = f.newClient({ username: 'alice', password: 'pw2' });
      expect((await alice2.get('pub/x')).count).toBe(1);
      await root.auth.roleRevokePermission('reader', 'pub/', 'pub0');
      await expect(alice2.get('pub/x')).rejects.toBeInstanceOf(ErrPermissionDenied);
      await root.auth.userRevokeRole('alice', 'reader');
      await root.auth.roleDelete('reader');
      await root.auth.userDelete('alice');
      await root.auth.authDisable();
    } finally {
      const root = new Client({
        endpoints: [f.etcd.endpoint],
        username: 'root',
        password: 'rootpw',
      });
      await root.auth.authDisable().catch(() => undefined);
      root.close();
    }
    expect((await f.client.get('pub/x')).count).toBe(1);
  });
});

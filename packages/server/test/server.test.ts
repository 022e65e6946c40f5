import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { Backend } from '@etcd-ts/backend';
import { BoltReader } from '@etcd-ts/bbolt';
import { KVStore } from '@etcd-ts/mvcc';
import { WAL } from '@etcd-ts/wal';
import { credentials, Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b, call, type Member, removeDir, startMember } from './helpers.js';

const P = etcdserverpb;

describe('a single member in process', () => {
  let m: Member;
  beforeAll(async () => {
    m = await startMember();
  });
  afterAll(async () => {
    await m.close();
    removeDir(m.dir);
  });

  const put = (key: string, value: string) =>
    call(m.kv.put, m.kv, P.PutRequest.fromPartial({ key: b(key), value: b(value) }));
  const range = (req: Partial<etcdserverpb.RangeRequest>) =>
    call(m.kv.range, m.kv, P.RangeRequest.fromPartial(req));

  it('puts and reads back with a full header', async () => {
    const p = await put('foo', 'bar');
    expect(p.header?.revision).toBeGreaterThan(1);
    expect(p.header?.memberId).toBe(m.etcd.server.memberId);
    expect(p.header?.clusterId).toBe(m.etcd.server.clusterId);
    expect(p.header?.raftTerm).toBeGreaterThan(0);
    const r = await range({ key: b('foo') });
    expect(r.kvs.map((kv) => Buffer.from(kv.value).toString())).toEqual(['bar']);
    const s = await range({ key: b('foo'), serializable: true });
    expect(s.count).toBe(1);
  });

  it('refuses an empty key and an oversized txn with etcd errors', async () => {
    await expect(put('', 'x')).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: key is not provided',
    });
    const ops = Array.from({ length: 129 }, (_, i) => ({
      requestPut: { key: b(`k${i}`), value: b('v') },
    }));
    await expect(
      call(m.kv.txn, m.kv, P.TxnRequest.fromPartial({ success: ops })),
    ).rejects.toMatchObject({ code: 3, details: 'etcdserver: too many operations in txn request' });
    await expect(
      call(
        m.kv.put,
        m.kv,
        P.PutRequest.fromPartial({ key: b('big'), value: Buffer.alloc(1.6 * 1024 * 1024) }),
      ),
    ).rejects.toMatchObject({ code: 3, details: 'etcdserver: request is too large' });
  });

  it('compacts and reports compacted revisions', async () => {
    const p1 = await put('c', '1');
    await put('c', '2');
    await call(
      m.kv.compact,
      m.kv,
      P.CompactionRequest.fromPartial({ revision: p1.header!.revision, physical: true }),
    );
    await expect(range({ key: b('c'), revision: p1.header!.revision - 1 })).rejects.toMatchObject({
      code: 11,
      details: 'etcdserver: mvcc: required revision has been compacted',
    });
  });

  it('watches from a revision, with prev_kv', async () => {
    const p = await put('w/a', '1');
    await put('w/a', '2');
    const stream = m.watch.watch();
    stream.on('error', () => {});
    const got: etcdserverpb.WatchResponse[] = [];
    const done = new Promise<void>((resolve) => {
      stream.on('data', (r: etcdserverpb.WatchResponse) => {
        got.push(r);
        if (got.reduce((n, x) => n + x.events.length, 0) >= 2) resolve();
      });
    });
    stream.write(
      P.WatchRequest.fromPartial({
        createRequest: {
          key: b('w/'),
          rangeEnd: b('w0'),
          startRevision: p.header!.revision,
          prevKv: true,
        },
      }),
    );
    await done;
    stream.cancel();
    expect(got[0]!.created).toBe(true);
    const evs = got.flatMap((r) => r.events);
    expect(evs.map((e) => Buffer.from(e.kv!.value).toString())).toEqual(['1', '2']);
    expect(Buffer.from(evs[1]!.prevKv!.value).toString()).toBe('1');
  });

  it('grants, attaches, lists, revokes and expires leases', async () => {
    const g = await call(m.lease.leaseGrant, m.lease, P.LeaseGrantRequest.fromPartial({ TTL: 30 }));
    expect(g.ID).toBeGreaterThan(0n);
    await call(
      m.kv.put,
      m.kv,
      P.PutRequest.fromPartial({ key: b('l/a'), value: b('1'), lease: g.ID }),
    );
    const ttl = await call(
      m.lease.leaseTimeToLive,
      m.lease,
      P.LeaseTimeToLiveRequest.fromPartial({ ID: g.ID, keys: true }),
    );
    expect(ttl.grantedTTL).toBe(30);
    expect(ttl.keys.map((k) => Buffer.from(k).toString())).toEqual(['l/a']);
    const list = await call(m.lease.leaseLeases, m.lease, {});
    expect(list.leases.map((l) => l.ID)).toContain(g.ID);
    await call(m.lease.leaseRevoke, m.lease, P.LeaseRevokeRequest.fromPartial({ ID: g.ID }));
    expect((await range({ key: b('l/a') })).count).toBe(0);
    const gone = await call(
      m.lease.leaseTimeToLive,
      m.lease,
      P.LeaseTimeToLiveRequest.fromPartial({ ID: g.ID }),
    );
    expect(gone.TTL).toBe(-1);
    await expect(
      call(
        m.kv.put,
        m.kv,
        P.PutRequest.fromPartial({ key: b('l/b'), value: b('1'), lease: 12345n }),
      ),
    ).rejects.toMatchObject({ code: 5, details: 'etcdserver: requested lease not found' });
    // A short lease with no keep-alive expires and takes its key with it.
    const short = await call(
      m.lease.leaseGrant,
      m.lease,
      P.LeaseGrantRequest.fromPartial({ TTL: 1 }),
    );
    await call(
      m.kv.put,
      m.kv,
      P.PutRequest.fromPartial({ key: b('l/c'), value: b('1'), lease: short.ID }),
    );
    const deadline = Date.now() + 10_000;
    while ((await range({ key: b('l/c') })).count > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect((await range({ key: b('l/c') })).count).toBe(0);
  }, 20_000);

  it('streams a snapshot with its sha256 trailer, as etcdctl snapshot save expects', async () => {
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const st = m.maintenance.snapshot({});
      st.on('data', (r: etcdserverpb.SnapshotResponse) => chunks.push(Buffer.from(r.blob)));
      st.on('end', () => resolve());
      st.on('error', reject);
    });
    const all = Buffer.concat(chunks);
    // etcd's format: a bbolt file (magic at offset 16, whole pages) then its sha256.
    expect(all.length % 4096).toBe(32);
    expect(all.readUInt32LE(16)).toBe(0xed0cdaed);
    const body = all.subarray(0, all.length - 32);
    expect(
      createHash('sha256')
        .update(body)
        .digest()
        .equals(all.subarray(all.length - 32)),
    ).toBe(true);
    const db = BoltReader.fromBytes(body);
    expect(db.check()).toEqual([]);
    expect([...db.buckets()].map((x) => Buffer.from(x.name).toString())).toEqual(
      expect.arrayContaining(['key', 'meta', 'members', 'lease', 'auth', 'alarm', 'cluster']),
    );
    expect(db.size).toBe(body.length);
    // Streamed from the read transaction: no copy of the database was written to disk.
    expect(readdirSync(join(m.dir, 'member', 'snap')).filter((f) => f.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it('serves status, member list, hash and alarms', async () => {
    const st = await call(m.maintenance.status, m.maintenance, {});
    expect(st.leader).toBe(m.etcd.server.memberId);
    expect(st.raftAppliedIndex).toBeGreaterThan(0);
    const ml = await call(m.cluster.memberList, m.cluster, P.MemberListRequest.fromPartial({}));
    expect(ml.members).toHaveLength(1);
    expect(ml.members[0]!.name).toBe('m1');
    const h = await call(m.maintenance.hashKv, m.maintenance, P.HashKVRequest.fromPartial({}));
    expect(h.hash).toBeTypeOf('number');
    const al = await call(m.maintenance.alarm, m.maintenance, P.AlarmRequest.fromPartial({}));
    expect(al.alarms).toEqual([]);
  });
});

describe('restart', () => {
  it('keeps every write across a restart, applying none twice', async () => {
    let m = await startMember();
    const dir = m.dir;
    try {
      for (let i = 0; i < 20; i++)
        await call(
          m.kv.put,
          m.kv,
          P.PutRequest.fromPartial({ key: b(`k${i}`), value: b(`v${i}`) }),
        );
      const before = await call(
        m.kv.range,
        m.kv,
        P.RangeRequest.fromPartial({ key: b('k'), rangeEnd: b('l') }),
      );
      await m.close();
      m = await startMember({}, dir);
      const after = await call(
        m.kv.range,
        m.kv,
        P.RangeRequest.fromPartial({ key: b('k'), rangeEnd: b('l') }),
      );
      expect(after.count).toBe(20);
      // Only the restart's own publish entry may have been added: no write was re-applied.
      expect(after.header!.revision).toBe(before.header!.revision);
      expect(after.kvs.map((kv) => kv.modRevision)).toEqual(before.kvs.map((kv) => kv.modRevision));
    } finally {
      await m.close();
      removeDir(dir);
    }
  });
  it('refuses to start on a backend ahead of its WAL (an invariant, as etcd)', async () => {
    const m = await startMember();
    const dir = m.dir;
    try {
      await call(m.kv.put, m.kv, P.PutRequest.fromPartial({ key: b('k'), value: b('v') }));
      await m.close();
      // The backend claims entries the WAL never held: data without a log behind it.
      const be = Backend.open({ path: join(dir, 'member', 'snap', 'db'), noSync: true });
      const st = new KVStore(be);
      st.setConsistentIndex(1_000_000, 1);
      await st.close();
      await be.close();
      await expect(startMember({}, dir)).rejects.toThrow(
        /backend consistent index 1000000 is ahead of the WAL's last index/,
      );
    } finally {
      removeDir(dir);
    }
  });
});

describe('leases and auth across a restart', () => {
  it('keeps leases with their keys and the auth state', async () => {
    let m = await startMember();
    const dir = m.dir;
    const auth = () => new etcdserverpb.AuthClient(m.address, credentials.createInsecure());
    try {
      const g = await call(
        m.lease.leaseGrant,
        m.lease,
        P.LeaseGrantRequest.fromPartial({ TTL: 60 }),
      );
      await call(
        m.kv.put,
        m.kv,
        P.PutRequest.fromPartial({ key: b('lk'), value: b('v'), lease: g.ID }),
      );
      let a = auth();
      await call(a.userAdd, a, P.AuthUserAddRequest.fromPartial({ name: 'root', password: 'pw' }));
      await call(
        a.userGrantRole,
        a,
        P.AuthUserGrantRoleRequest.fromPartial({ user: 'root', role: 'root' }),
      );
      await call(a.authEnable, a, {});
      a.close();
      await m.close();
      m = await startMember({}, dir);
      a = auth();
      const { token } = await call(
        a.authenticate,
        a,
        P.AuthenticateRequest.fromPartial({ name: 'root', password: 'pw' }),
      );
      const md = new Metadata();
      md.set('token', token);
      await expect(
        call(m.kv.range, m.kv, P.RangeRequest.fromPartial({ key: b('lk') })),
      ).rejects.toMatchObject({
        details: 'etcdserver: user name is empty',
      });
      // Listing a lease's keys needs read permission on them (CVE-2023-32082): as root.
      const ttl = await call(
        m.lease.leaseTimeToLive,
        m.lease,
        P.LeaseTimeToLiveRequest.fromPartial({ ID: g.ID, keys: true }),
        md,
      );
      expect(ttl.keys.map((k) => Buffer.from(k).toString())).toEqual(['lk']);
      expect(ttl.TTL).toBeGreaterThan(50);
      await call(m.lease.leaseRevoke, m.lease, P.LeaseRevokeRequest.fromPartial({ ID: g.ID }), md);
      const r = await call(m.kv.range, m.kv, P.RangeRequest.fromPartial({ key: b('lk') }), md);
      expect(r.count).toBe(0);
      await call(a.authDisable, a, {}, md);
      a.close();
    } finally {
      await m.close();
      removeDir(dir);
    }
  }, 30_000);
});

describe('a first start that crashed before raft bootstrapped', () => {
  it('bootstraps again from a WAL that holds no entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-ts-server-'));
    const walDir = join(dir, 'member', 'wal');
    mkdirSync(join(dir, 'member'), { recursive: true });
    const wal = await WAL.create(walDir, P.Metadata.encode({ NodeID: 1n, ClusterID: 2n }).finish());
    await wal.close();
    const m = await startMember({}, dir);
    try {
      await call(m.kv.put, m.kv, P.PutRequest.fromPartial({ key: b('k'), value: b('v') }));
      expect(m.etcd.server.memberId).not.toBe(1n);
    } finally {
      await m.close();
      removeDir(dir);
    }
  });
});

describe('auto compaction', () => {
  it('periodic: compacts to the revision of one retention period ago', async () => {
    const m = await startMember({ autoCompactionMode: 'periodic', autoCompactionRetention: '1s' });
    try {
      const first = await call(
        m.kv.put,
        m.kv,
        P.PutRequest.fromPartial({ key: b('a'), value: b('1') }),
      );
      const deadline = Date.now() + 10_000;
      let compacted = false;
      while (!compacted && Date.now() < deadline) {
        await call(m.kv.put, m.kv, P.PutRequest.fromPartial({ key: b('a'), value: b('2') }));
        await new Promise((r) => setTimeout(r, 200));
        compacted = await call(
          m.kv.range,
          m.kv,
          P.RangeRequest.fromPartial({ key: b('a'), revision: first.header!.revision - 1 }),
        ).then(
          () => false,
          (err) => /compacted/.test(String(err)),
        );
      }
      expect(compacted).toBe(true);
    } finally {
      await m.close();
      removeDir(m.dir);
    }
  }, 20_000);
});

describe('snapshots', () => {
  it('snapshots every snapshot-count entries, keeps max-snapshots files and restarts from them', async () => {
    let m = await startMember({ snapshotCount: 40, maxSnapshots: 2, snapshotCatchUpEntries: 10 });
    const dir = m.dir;
    try {
      for (let i = 0; i < 150; i++)
        await call(
          m.kv.put,
          m.kv,
          P.PutRequest.fromPartial({ key: b(`s${i % 10}`), value: b(`${i}`) }),
        );
      // Purging runs after each snapshot; give the last one a moment.
      await new Promise((r) => setTimeout(r, 200));
      const snaps = readdirSync(join(dir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
      expect(snaps.length).toBeGreaterThanOrEqual(1);
      expect(snaps.length).toBeLessThanOrEqual(2);
      await m.close();
      m = await startMember({ snapshotCount: 40, maxSnapshots: 2 }, dir);
      const r = await call(
        m.kv.range,
        m.kv,
        P.RangeRequest.fromPartial({ key: b('s'), rangeEnd: b('t') }),
      );
      expect(r.count).toBe(10);
      expect(r.kvs.map((kv) => Buffer.from(kv.value).toString())).toContain('149');
    } finally {
      await m.close();
      removeDir(dir);
    }
  });
});

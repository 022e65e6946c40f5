import net from 'node:net';
import { etcdserverpb } from '@etcd-ts/api';
import { call, type EtcdProcess, startEtcd } from '@etcd-ts/testing';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_TS_BIN } from './helpers.js';

const P = etcdserverpb;
const b = (s: string) => Buffer.from(s);

describe('bad input', () => {
  let etcd: EtcdProcess;
  let kv: InstanceType<typeof P.KVClient>;
  beforeAll(async () => {
    etcd = await startEtcd({ bin: ETCD_TS_BIN });
    kv = new P.KVClient(etcd.endpoint, credentials.createInsecure());
    await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('keep'), value: b('me') }));
  });
  afterAll(async () => {
    kv.close();
    await etcd.stop();
  });

  it('answers each bad request with etcd error and keeps serving', async () => {
    await expect(
      call(kv.put, kv, P.PutRequest.fromPartial({ key: b(''), value: b('x') })),
    ).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: key is not provided',
    });
    await expect(
      call(kv.put, kv, P.PutRequest.fromPartial({ key: b('big'), value: Buffer.alloc(1_600_000) })),
    ).rejects.toMatchObject({ code: 3, details: 'etcdserver: request is too large' });
    // Past max-request-bytes + 512 KiB gRPC itself refuses the message.
    await expect(
      call(
        kv.put,
        kv,
        P.PutRequest.fromPartial({ key: b('huge'), value: Buffer.alloc(3_000_000) }),
      ),
    ).rejects.toMatchObject({ code: 8 });
    const ops = Array.from({ length: 129 }, (_, i) => ({
      requestPut: { key: b(`t${i}`), value: b('v') },
    }));
    await expect(
      call(kv.txn, kv, P.TxnRequest.fromPartial({ success: ops })),
    ).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: too many operations in txn request',
    });
    await expect(
      call(
        kv.txn,
        kv,
        P.TxnRequest.fromPartial({
          success: [
            { requestPut: { key: b('d'), value: b('1') } },
            { requestPut: { key: b('d'), value: b('2') } },
          ],
        }),
      ),
    ).rejects.toMatchObject({ code: 3, details: 'etcdserver: duplicate key given in txn request' });
    await expect(
      call(kv.put, kv, P.PutRequest.fromPartial({ key: b('l'), value: b('x'), lease: 424242n })),
    ).rejects.toMatchObject({ code: 5, details: 'etcdserver: requested lease not found' });
    // A reversed range is empty, as in etcd.
    const rev = await call(
      kv.range,
      kv,
      P.RangeRequest.fromPartial({ key: b('z'), rangeEnd: b('a') }),
    );
    expect(rev.count).toBe(0);
    await expect(
      call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('keep'), revision: 1_000_000 })),
    ).rejects.toMatchObject({
      code: 11,
      details: 'etcdserver: mvcc: required revision is a future revision',
    });
  });

  it('survives random bytes and a half-open connection on the client port', async () => {
    const [host, port] = etcd.endpoint.split(':') as [string, string];
    // Random bytes instead of an HTTP/2 preface.
    await new Promise<void>((resolve) => {
      const sock = net.connect(Number(port), host, () => {
        sock.write(Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919 + 13) & 0xff)));
        setTimeout(() => sock.destroy(), 300);
      });
      sock.on('error', () => {});
      sock.on('close', () => resolve());
    });
    // A connection that sends the preface and then nothing, left open.
    const idle = net.connect(Number(port), host, () =>
      idle.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    );
    idle.on('error', () => {});
    // And a client that starts a request and disappears mid-message.
    const half = net.connect(Number(port), host);
    half.on('error', () => {});
    half.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00');
    half.end();
    await new Promise((r) => setTimeout(r, 300));
    await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('after'), value: b('ok') }));
    const r = await call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('keep') }));
    expect(Buffer.from(r.kvs[0]!.value).toString()).toBe('me');
    idle.destroy();
  });
});

describe('quota', () => {
  let etcd: EtcdProcess;
  let kv: InstanceType<typeof P.KVClient>;
  let mt: InstanceType<typeof P.MaintenanceClient>;
  beforeAll(async () => {
    etcd = await startEtcd({ bin: ETCD_TS_BIN, args: ['--quota-backend-bytes=600000'] });
    kv = new P.KVClient(etcd.endpoint, credentials.createInsecure());
    mt = new P.MaintenanceClient(etcd.endpoint, credentials.createInsecure());
  });
  afterAll(async () => {
    kv.close();
    mt.close();
    await etcd.stop();
  });

  it('raises NOSPACE through raft, refuses writes until compaction, defrag and disarm', async () => {
    const value = Buffer.alloc(64 * 1024, 1);
    let err: ServiceError | undefined;
    let lastRev = 0;
    for (let i = 0; i < 100 && err === undefined; i++) {
      try {
        const r = await call(kv.put, kv, P.PutRequest.fromPartial({ key: b(`q${i % 3}`), value }));
        lastRev = r.header!.revision;
      } catch (e) {
        err = e as ServiceError;
      }
    }
    expect(err).toMatchObject({ code: 8, details: 'etcdserver: mvcc: database space exceeded' });
    const alarms = await call(mt.alarm, mt, P.AlarmRequest.fromPartial({}));
    expect(alarms.alarms.map((a) => a.alarm)).toEqual([P.AlarmType.NOSPACE]);
    const st = await call(mt.status, mt, {});
    expect(st.errors.join()).toMatch(/alarm:NOSPACE/);
    // Even a small write is refused while the alarm stands; reads still work.
    await expect(
      call(kv.put, kv, P.PutRequest.fromPartial({ key: b('small'), value: b('x') })),
    ).rejects.toMatchObject({
      code: 8,
      details: 'etcdserver: mvcc: database space exceeded',
    });
    await call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('q0') }));
    // Free space: compact away history, defragment, then disarm.
    await call(
      kv.deleteRange,
      kv,
      P.DeleteRangeRequest.fromPartial({ key: b('q'), rangeEnd: b('r') }),
    );
    await call(
      kv.compact,
      kv,
      P.CompactionRequest.fromPartial({ revision: lastRev + 1, physical: true }),
    );
    await call(mt.defragment, mt, {});
    await call(
      mt.alarm,
      mt,
      P.AlarmRequest.fromPartial({
        action: P.AlarmRequest_AlarmAction.DEACTIVATE,
        memberID: st.header!.memberId,
        alarm: P.AlarmType.NOSPACE,
      }),
    );
    await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('small'), value: b('x') }));
  });
});

describe('tokens', () => {
  it('refuses forged and stale tokens with etcd errors', async () => {
    const etcd = await startEtcd({ bin: ETCD_TS_BIN });
    const kv = new P.KVClient(etcd.endpoint, credentials.createInsecure());
    const auth = new P.AuthClient(etcd.endpoint, credentials.createInsecure());
    try {
      await call(
        auth.userAdd,
        auth,
        P.AuthUserAddRequest.fromPartial({ name: 'root', password: 'pw' }),
      );
      await call(
        auth.userGrantRole,
        auth,
        P.AuthUserGrantRoleRequest.fromPartial({ user: 'root', role: 'root' }),
      );
      await call(auth.authEnable, auth, {});
      const { token } = await call(
        auth.authenticate,
        auth,
        P.AuthenticateRequest.fromPartial({ name: 'root', password: 'pw' }),
      );
      await call(kv.put, kv, P.PutRequest.fromPartial({ key: b('k'), value: b('v') }), token);
      await expect(
        call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') }), 'forged.1'),
      ).rejects.toMatchObject({
        code: 16,
        details: 'etcdserver: invalid auth token',
      });
      await expect(
        call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') })),
      ).rejects.toMatchObject({
        code: 3,
        details: 'etcdserver: user name is empty',
      });
      // A forged simple token naming a raft index far ahead is not waited on forever.
      await expect(
        call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') }), 'abcdefghijklmnop.999999'),
      ).rejects.toMatchObject({ code: 16, details: 'etcdserver: invalid auth token' });
      // Changing the password invalidates the user's tokens.
      await call(
        auth.userChangePassword,
        auth,
        P.AuthUserChangePasswordRequest.fromPartial({ name: 'root', password: 'pw2' }),
        token,
      );
      await expect(
        call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') }), token),
      ).rejects.toMatchObject({
        code: 16,
        details: 'etcdserver: invalid auth token',
      });
      await expect(
        call(
          auth.authenticate,
          auth,
          P.AuthenticateRequest.fromPartial({ name: 'root', password: 'pw' }),
        ),
      ).rejects.toMatchObject({
        code: 3,
        details: 'etcdserver: authentication failed, invalid user ID or password',
      });
      const fresh = await call(
        auth.authenticate,
        auth,
        P.AuthenticateRequest.fromPartial({ name: 'root', password: 'pw2' }),
      );
      const r = await call(kv.range, kv, P.RangeRequest.fromPartial({ key: b('k') }), fresh.token);
      expect(r.count).toBe(1);
    } finally {
      kv.close();
      auth.close();
      await etcd.stop();
    }
  }, 30_000);
});

// Proves the wire definitions against the real thing: Debian's etcd 3.4 server,
// driven with the generated @grpc/grpc-js clients, every returned field checked.

import { type EtcdProcess, realEtcdAvailable, startEtcd, unary } from '@etcd-ts/testing';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdserverpb, healthpb, mvccpb } from '../src/index.js';

const b = (s: string) => Buffer.from(s);
const str = (u: Uint8Array | undefined) => Buffer.from(u ?? []).toString();

describe.runIf(realEtcdAvailable())('the generated client against etcd 3.4', () => {
  let etcd: EtcdProcess;
  let kv: etcdserverpb.KVClient;
  let watch: etcdserverpb.WatchClient;
  let lease: etcdserverpb.LeaseClient;
  let cluster: etcdserverpb.ClusterClient;
  let maintenance: etcdserverpb.MaintenanceClient;
  let clusterId: bigint;
  let memberId: bigint;

  beforeAll(async () => {
    etcd = await startEtcd({ name: 'wire-test' });
    const creds = credentials.createInsecure();
    kv = new etcdserverpb.KVClient(etcd.endpoint, creds);
    watch = new etcdserverpb.WatchClient(etcd.endpoint, creds);
    lease = new etcdserverpb.LeaseClient(etcd.endpoint, creds);
    cluster = new etcdserverpb.ClusterClient(etcd.endpoint, creds);
    maintenance = new etcdserverpb.MaintenanceClient(etcd.endpoint, creds);
  }, 30_000);

  afterAll(async () => {
    for (const c of [kv, watch, lease, cluster, maintenance]) c?.close();
    await etcd?.stop();
  });

  it('Status and MemberList describe the one member', async () => {
    const status = await unary(
      maintenance.status.bind(maintenance),
      etcdserverpb.StatusRequest.create(),
    );
    expect(status.version).toBe('3.4.23');
    expect(typeof status.header?.clusterId).toBe('bigint');
    clusterId = status.header!.clusterId;
    memberId = status.header!.memberId;
    expect(clusterId).not.toBe(0n);
    expect(status.leader).toBe(memberId);
    expect(status.raftTerm).toBeGreaterThanOrEqual(2);
    expect(status.raftIndex).toBeGreaterThanOrEqual(status.raftAppliedIndex);
    expect(status.dbSize).toBeGreaterThan(0);
    expect(status.dbSizeInUse).toBeGreaterThan(0);
    expect(status.dbSizeInUse).toBeLessThanOrEqual(status.dbSize);
    expect(status.isLearner).toBe(false);
    expect(status.errors).toEqual([]);

    const list = await unary(
      cluster.memberList.bind(cluster),
      etcdserverpb.MemberListRequest.create(),
    );
    expect(list.header?.clusterId).toBe(clusterId);
    expect(list.header?.memberId).toBe(memberId);
    expect(list.members).toEqual([
      {
        ID: memberId,
        name: 'wire-test',
        peerURLs: [etcd.peerUrl],
        clientURLs: [etcd.clientUrl],
        isLearner: false,
      },
    ]);
  });

  it('Put, Range (single, prefix, limit, revision) and DeleteRange', async () => {
    const p1 = await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('/a/1'), value: b('one') }),
    );
    const rev1 = p1.header!.revision;
    expect(p1.header?.clusterId).toBe(clusterId);
    expect(p1.header?.memberId).toBe(memberId);
    expect(p1.header?.raftTerm).toBeGreaterThanOrEqual(2);
    expect(p1.prevKv).toBeUndefined();

    const p2 = await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('/a/1'), value: b('uno'), prevKv: true }),
    );
    expect(p2.header!.revision).toBe(rev1 + 1);
    expect(p2.prevKv).toEqual(
      mvccpb.KeyValue.fromPartial({
        key: b('/a/1'),
        value: b('one'),
        createRevision: rev1,
        modRevision: rev1,
        version: 1,
      }),
    );
    await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('/a/2'), value: b('two') }),
    );
    await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('/b'), value: b('bee') }),
    );

    const one = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('/a/1') }),
    );
    expect(one.count).toBe(1);
    expect(one.more).toBe(false);
    expect(one.kvs).toHaveLength(1);
    const kv1 = one.kvs[0]!;
    expect(str(kv1.key)).toBe('/a/1');
    expect(str(kv1.value)).toBe('uno');
    expect(kv1.createRevision).toBe(rev1);
    expect(kv1.modRevision).toBe(rev1 + 1);
    expect(kv1.version).toBe(2);
    expect(kv1.lease).toBe(0n);
    expect(one.header!.revision).toBe(rev1 + 3);

    const prefix = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('/a/'), rangeEnd: b('/a0') }),
    );
    expect(prefix.kvs.map((x) => str(x.key))).toEqual(['/a/1', '/a/2']);
    expect(prefix.count).toBe(2);

    const limited = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('/'), rangeEnd: b('\0'), limit: 1 }),
    );
    expect(limited.kvs.map((x) => str(x.key))).toEqual(['/a/1']);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);

    const past = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('/a/1'), revision: rev1 }),
    );
    expect(str(past.kvs[0]?.value)).toBe('one');
    expect(past.kvs[0]?.version).toBe(1);

    const sorted = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({
        key: b('/'),
        rangeEnd: b('\0'),
        sortOrder: etcdserverpb.RangeRequest_SortOrder.DESCEND,
        sortTarget: etcdserverpb.RangeRequest_SortTarget.KEY,
        keysOnly: true,
      }),
    );
    expect(sorted.kvs.map((x) => str(x.key))).toEqual(['/b', '/a/2', '/a/1']);
    expect(sorted.kvs.every((x) => x.value.length === 0)).toBe(true);

    const del = await unary(
      kv.deleteRange.bind(kv),
      etcdserverpb.DeleteRangeRequest.fromPartial({
        key: b('/a/'),
        rangeEnd: b('/a0'),
        prevKv: true,
      }),
    );
    expect(del.deleted).toBe(2);
    expect(del.prevKvs.map((x) => str(x.value))).toEqual(['uno', 'two']);
    expect(del.header!.revision).toBe(rev1 + 4);

    const future = unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('/b'), revision: rev1 + 1000 }),
    );
    await expect(future).rejects.toMatchObject({
      code: 11,
      details: 'etcdserver: mvcc: required revision is a future revision',
    });
  });

  it('Txn takes the success branch on a true compare and the failure branch otherwise', async () => {
    const put = await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('t'), value: b('v1') }),
    );
    const txn = (value: string) =>
      etcdserverpb.TxnRequest.fromPartial({
        compare: [
          {
            key: b('t'),
            target: etcdserverpb.Compare_CompareTarget.VALUE,
            result: etcdserverpb.Compare_CompareResult.EQUAL,
            value: b(value),
          },
        ],
        success: [
          { requestPut: { key: b('t'), value: b('v2') } },
          { requestRange: { key: b('t') } },
        ],
        failure: [{ requestRange: { key: b('t') } }],
      });
    const ok = await unary(kv.txn.bind(kv), txn('v1'));
    expect(ok.succeeded).toBe(true);
    expect(ok.header!.revision).toBe(put.header!.revision + 1);
    expect(ok.responses).toHaveLength(2);
    expect(ok.responses[0]?.responsePut?.header?.revision).toBe(put.header!.revision + 1);
    expect(str(ok.responses[1]?.responseRange?.kvs[0]?.value)).toBe('v2');

    const no = await unary(kv.txn.bind(kv), txn('v1'));
    expect(no.succeeded).toBe(false);
    expect(no.header!.revision).toBe(put.header!.revision + 1);
    expect(str(no.responses[0]?.responseRange?.kvs[0]?.value)).toBe('v2');

    const versionCmp = await unary(
      kv.txn.bind(kv),
      etcdserverpb.TxnRequest.fromPartial({
        compare: [
          {
            key: b('t'),
            target: etcdserverpb.Compare_CompareTarget.VERSION,
            result: etcdserverpb.Compare_CompareResult.GREATER,
            version: 1n,
          },
        ],
      }),
    );
    expect(versionCmp.succeeded).toBe(true);
  });

  it('a Watch receives put and delete events with prev_kv', async () => {
    const stream = watch.watch();
    const responses: etcdserverpb.WatchResponse[] = [];
    const waitFor = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => responses.length >= n && resolve();
        stream.on('data', (r: etcdserverpb.WatchResponse) => {
          responses.push(r);
          check();
        });
        stream.on('error', reject);
        check();
      });
    const created = waitFor(1);
    stream.write(
      etcdserverpb.WatchRequest.fromPartial({
        createRequest: { key: b('/w/'), rangeEnd: b('/w0'), prevKv: true },
      }),
    );
    await created;
    expect(responses[0]?.created).toBe(true);
    const watchId = responses[0]!.watchId;

    const put1 = await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('/w/x'), value: b('1') }),
    );
    await unary(
      kv.deleteRange.bind(kv),
      etcdserverpb.DeleteRangeRequest.fromPartial({ key: b('/w/x') }),
    );
    await new Promise<void>((resolve) => {
      const poll = () => {
        const events = responses.flatMap((r) => r.events);
        if (events.length >= 2) resolve();
        else setTimeout(poll, 10);
      };
      poll();
    });
    const events = responses.flatMap((r) => r.events);
    expect(events).toHaveLength(2);
    expect(responses.slice(1).every((r) => r.watchId === watchId)).toBe(true);
    expect(events[0]?.type).toBe(mvccpb.Event_EventType.PUT);
    expect(str(events[0]?.kv?.value)).toBe('1');
    expect(events[0]?.kv?.modRevision).toBe(put1.header!.revision);
    expect(events[0]?.prevKv).toBeUndefined();
    expect(events[1]?.type).toBe(mvccpb.Event_EventType.DELETE);
    expect(events[1]?.kv?.modRevision).toBe(put1.header!.revision + 1);
    expect(str(events[1]?.prevKv?.value)).toBe('1');

    const cancelled = waitFor(responses.length + 1);
    stream.write(etcdserverpb.WatchRequest.fromPartial({ cancelRequest: { watchId } }));
    await cancelled;
    expect(responses.at(-1)?.canceled).toBe(true);
    stream.end();
    stream.cancel();
  });

  it('LeaseGrant with an id of 2^63-1, TimeToLive with keys, LeaseRevoke', async () => {
    const id = 2n ** 63n - 1n;
    const grant = await unary(
      lease.leaseGrant.bind(lease),
      etcdserverpb.LeaseGrantRequest.fromPartial({ TTL: 60, ID: id }),
    );
    expect(grant.ID).toBe(id);
    expect(grant.TTL).toBe(60);
    expect(grant.error).toBe('');

    await unary(
      kv.put.bind(kv),
      etcdserverpb.PutRequest.fromPartial({ key: b('leased'), value: b('x'), lease: id }),
    );
    const ttl = await unary(
      lease.leaseTimeToLive.bind(lease),
      etcdserverpb.LeaseTimeToLiveRequest.fromPartial({ ID: id, keys: true }),
    );
    expect(ttl.ID).toBe(id);
    expect(ttl.grantedTTL).toBe(60);
    expect(ttl.TTL).toBeGreaterThan(55);
    expect(ttl.keys.map(str)).toEqual(['leased']);

    const leases = await unary(
      lease.leaseLeases.bind(lease),
      etcdserverpb.LeaseLeasesRequest.create(),
    );
    expect(leases.leases.map((l) => l.ID)).toContain(id);

    const got = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('leased') }),
    );
    expect(got.kvs[0]?.lease).toBe(id);

    await unary(
      lease.leaseRevoke.bind(lease),
      etcdserverpb.LeaseRevokeRequest.fromPartial({ ID: id }),
    );
    const gone = await unary(
      kv.range.bind(kv),
      etcdserverpb.RangeRequest.fromPartial({ key: b('leased') }),
    );
    expect(gone.count).toBe(0);

    await expect(
      unary(lease.leaseRevoke.bind(lease), etcdserverpb.LeaseRevokeRequest.fromPartial({ ID: id })),
    ).rejects.toMatchObject({ code: 5, details: 'etcdserver: requested lease not found' });
  });

  it('grpc.health.v1 Check reports SERVING', async () => {
    const health = new healthpb.HealthClient(etcd.endpoint, credentials.createInsecure());
    const res = await unary(health.check.bind(health), healthpb.HealthCheckRequest.create());
    expect(res.status).toBe(healthpb.HealthCheckResponse_ServingStatus.SERVING);
    health.close();
  });
});

// etcd's responses as Go's encoding/json writes the gogoproto structs etcdctl prints:
// each field under its Go json tag, zero values left out (omitempty), uint64/int64 as
// bare numbers, bytes in base64. The clientv3 wrapper types (lease responses, the watch
// response) have their own tags and no omitempty on some fields, as in clientv3.
import type { authpb, etcdserverpb, mvccpb } from '@etcd-ts/api';
import type { GoJSON } from './gofmt.js';

type Obj = { [key: string]: GoJSON | undefined };

const nz = (n: number | bigint): number | bigint | undefined =>
  n === 0 || n === 0n ? undefined : n;
const ne = (b: Uint8Array): Uint8Array | undefined => (b.length === 0 ? undefined : b);
const ns = (s: string): string | undefined => (s === '' ? undefined : s);
const nb = (b: boolean): boolean | undefined => (b ? true : undefined);
const na = <T>(a: T[], f: (x: T) => GoJSON): GoJSON[] | undefined =>
  a.length === 0 ? undefined : a.map(f);

/** int64 fields that carry a uint64 id are printed as Go's int64 would print them. */
const i64 = (n: bigint): bigint => BigInt.asIntN(64, n);
const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);

export function headerFields(h: etcdserverpb.ResponseHeader | undefined): Obj {
  if (h === undefined) return {};
  return {
    cluster_id: nz(u64(h.clusterId)),
    member_id: nz(u64(h.memberId)),
    revision: nz(h.revision),
    raft_term: nz(h.raftTerm),
  };
}

export function header(h: etcdserverpb.ResponseHeader | undefined): Obj | undefined {
  return h === undefined ? undefined : headerFields(h);
}

export function kv(k: mvccpb.KeyValue | undefined): Obj | undefined {
  if (k === undefined) return undefined;
  return {
    key: ne(k.key),
    create_revision: nz(k.createRevision),
    mod_revision: nz(k.modRevision),
    version: nz(k.version),
    value: ne(k.value),
    lease: nz(i64(k.lease)),
  };
}

export function event(e: mvccpb.Event): Obj {
  return { type: nz(e.type), kv: kv(e.kv), prev_kv: kv(e.prevKv) };
}

export function range(r: etcdserverpb.RangeResponse): Obj {
  return {
    header: header(r.header),
    kvs: na(r.kvs, (x) => kv(x)!),
    more: nb(r.more),
    count: nz(r.count),
  };
}

export function put(r: etcdserverpb.PutResponse): Obj {
  return { header: header(r.header), prev_kv: kv(r.prevKv) };
}

export function deleteRange(r: etcdserverpb.DeleteRangeResponse): Obj {
  return {
    header: header(r.header),
    deleted: nz(r.deleted),
    prev_kvs: na(r.prevKvs, (x) => kv(x)!),
  };
}

function responseOp(o: etcdserverpb.ResponseOp): Obj {
  // A oneof is an interface field named Response holding a wrapper struct without tags.
  if (o.responseRange !== undefined) return { Response: { ResponseRange: range(o.responseRange) } };
  if (o.responsePut !== undefined) return { Response: { ResponsePut: put(o.responsePut) } };
  if (o.responseDeleteRange !== undefined) {
    return { Response: { ResponseDeleteRange: deleteRange(o.responseDeleteRange) } };
  }
  if (o.responseTxn !== undefined) return { Response: { ResponseTxn: txn(o.responseTxn) } };
  return {};
}

export function txn(r: etcdserverpb.TxnResponse): Obj {
  return {
    header: header(r.header),
    succeeded: nb(r.succeeded),
    responses: na(r.responses, responseOp),
  };
}

/** clientv3.WatchResponse: untagged fields, so Go's field names and no omitempty. */
export function watch(h: etcdserverpb.ResponseHeader, events: mvccpb.Event[]): Obj {
  return {
    Header: headerFields(h),
    Events: events.length === 0 ? null : events.map(event),
    CompactRevision: 0,
    Canceled: false,
    Created: false,
  };
}

export function member(m: etcdserverpb.Member): Obj {
  return {
    ID: nz(u64(m.ID)),
    name: ns(m.name),
    peerURLs: na(m.peerURLs, (u) => u),
    clientURLs: na(m.clientURLs, (u) => u),
    isLearner: nb(m.isLearner),
  };
}

export function members(r: {
  header?: etcdserverpb.ResponseHeader | undefined;
  members: etcdserverpb.Member[];
}): Obj {
  return { header: header(r.header), members: na(r.members, member) };
}

export function memberAdd(r: etcdserverpb.MemberAddResponse): Obj {
  return {
    header: header(r.header),
    member: r.member === undefined ? undefined : member(r.member),
    members: na(r.members, member),
  };
}

export function alarm(r: etcdserverpb.AlarmResponse): Obj {
  return {
    header: header(r.header),
    alarms: na(r.alarms, (a) => ({ memberID: nz(u64(a.memberID)), alarm: nz(a.alarm) })),
  };
}

export function status(r: etcdserverpb.StatusResponse): Obj {
  return {
    header: header(r.header),
    version: ns(r.version),
    dbSize: nz(r.dbSize),
    leader: nz(u64(r.leader)),
    raftIndex: nz(r.raftIndex),
    raftTerm: nz(r.raftTerm),
    raftAppliedIndex: nz(r.raftAppliedIndex),
    errors: na(r.errors, (e) => e),
    dbSizeInUse: nz(r.dbSizeInUse),
    isLearner: nb(r.isLearner),
  };
}

export function hashKV(r: etcdserverpb.HashKVResponse): Obj {
  return { header: header(r.header), hash: nz(r.hash), compact_revision: nz(r.compactRevision) };
}

/** clientv3.LeaseGrantResponse: the header's fields inline, then ID, TTL, Error. */
export function leaseGrant(r: etcdserverpb.LeaseGrantResponse): Obj {
  return { ...headerFields(r.header), ID: i64(r.ID), TTL: r.TTL, Error: r.error };
}

export function leaseKeepAlive(r: etcdserverpb.LeaseKeepAliveResponse): Obj {
  return { ...headerFields(r.header), ID: i64(r.ID), TTL: r.TTL };
}

export function leaseTimeToLive(r: etcdserverpb.LeaseTimeToLiveResponse): Obj {
  return {
    ...headerFields(r.header),
    id: i64(r.ID),
    ttl: r.TTL,
    'granted-ttl': r.grantedTTL,
    keys: r.keys.length === 0 ? null : r.keys,
  };
}

export function leaseLeases(r: etcdserverpb.LeaseLeasesResponse): Obj {
  return {
    ...headerFields(r.header),
    leases: r.leases.length === 0 ? null : r.leases.map((l) => ({ id: i64(l.ID) })),
  };
}

export function headerOnly(r: { header?: etcdserverpb.ResponseHeader | undefined }): Obj {
  return { header: header(r.header) };
}

export function permission(p: authpb.Permission): Obj {
  return { permType: nz(p.permType), key: ne(p.key), range_end: ne(p.rangeEnd) };
}

export function roleGet(r: etcdserverpb.AuthRoleGetResponse): Obj {
  return { header: header(r.header), perm: na(r.perm, permission) };
}

export function strings(
  r: { header?: etcdserverpb.ResponseHeader | undefined },
  field: 'roles' | 'users',
  values: string[],
): Obj {
  return { header: header(r.header), [field]: na(values, (v) => v) };
}

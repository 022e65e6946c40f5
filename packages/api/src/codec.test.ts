import { describe, expect, it } from 'vitest';
import { encodeMessage, etcdserverpb, leasepb, mvccpb } from './index.js';

const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

describe('64-bit ids survive the wire exactly', () => {
  it('a lease id of 2^63-1 round-trips', () => {
    const req = etcdserverpb.LeaseGrantRequest.fromPartial({ TTL: 60, ID: MAX_INT64 });
    const back = etcdserverpb.LeaseGrantRequest.decode(
      encodeMessage(etcdserverpb.LeaseGrantRequest, req),
    );
    expect(back.ID).toBe(MAX_INT64);
    const kv = mvccpb.KeyValue.fromPartial({ key: new Uint8Array([1]), lease: MAX_INT64 });
    expect(mvccpb.KeyValue.decode(encodeMessage(mvccpb.KeyValue, kv)).lease).toBe(MAX_INT64);
    const stored = leasepb.Lease.fromPartial({ ID: MAX_INT64, TTL: 5 });
    expect(leasepb.Lease.decode(encodeMessage(leasepb.Lease, stored)).ID).toBe(MAX_INT64);
  });

  it('a member and cluster id of 2^64-1 round-trips', () => {
    const resp = etcdserverpb.MemberListResponse.fromPartial({
      header: { clusterId: MAX_UINT64, memberId: MAX_UINT64, revision: 7, raftTerm: 3 },
      members: [{ ID: MAX_UINT64, name: 'm', peerURLs: ['http://127.0.0.1:2380'] }],
    });
    const back = etcdserverpb.MemberListResponse.decode(
      encodeMessage(etcdserverpb.MemberListResponse, resp),
    );
    expect(back.header?.clusterId).toBe(MAX_UINT64);
    expect(back.header?.memberId).toBe(MAX_UINT64);
    expect(back.members[0]?.ID).toBe(MAX_UINT64);
    expect(back.header?.revision).toBe(7);
  });

  it('encodes fields with etcd numbers (byte-exact)', () => {
    // KeyValue{key:"a", create_revision:2, mod_revision:3, version:1, value:"b", lease:1}
    // is 0a 01 61 | 10 02 | 18 03 | 20 01 | 2a 01 62 | 30 01 in etcd's encoding.
    const kv = mvccpb.KeyValue.fromPartial({
      key: Buffer.from('a'),
      createRevision: 2,
      modRevision: 3,
      version: 1,
      value: Buffer.from('b'),
      lease: 1n,
    });
    expect(Buffer.from(encodeMessage(mvccpb.KeyValue, kv)).toString('hex')).toBe(
      '0a01611002180320012a01623001',
    );
    // Compare.range_end is field 64: tag (64<<3|2) = 0x202 = varint 82 04.
    const cmp = etcdserverpb.Compare.fromPartial({
      key: Buffer.from('k'),
      rangeEnd: Buffer.from('l'),
    });
    expect(Buffer.from(encodeMessage(etcdserverpb.Compare, cmp)).toString('hex')).toBe(
      '1a016b8204016c',
    );
    // InternalRaftRequest.header is field 100 (tag 0x322 = a2 06) and put is field 4.
    const irr = etcdserverpb.InternalRaftRequest.fromPartial({
      header: { ID: 5n },
      put: { key: Buffer.from('k') },
    });
    expect(Buffer.from(encodeMessage(etcdserverpb.InternalRaftRequest, irr)).toString('hex')).toBe(
      '2203 0a016b a206020805'.replace(/ /g, ''),
    );
  });

  it('refuses a revision beyond Number.MAX_SAFE_INTEGER instead of rounding it', () => {
    // ResponseHeader.revision = 2^60 encoded by hand: tag 0x18, varint of 2^60.
    const writer = etcdserverpb.ResponseHeader.encode(
      etcdserverpb.ResponseHeader.fromPartial({ clusterId: 1n }),
    );
    writer.uint32(0x18).int64(2n ** 60n);
    expect(() => etcdserverpb.ResponseHeader.decode(writer.finish())).toThrow(/MAX_SAFE_INTEGER/);
  });

  it('the gRPC serializers reuse a scratch writer safely', () => {
    const { requestSerialize, requestDeserialize } = etcdserverpb.KVService.put;
    const a = requestSerialize(etcdserverpb.PutRequest.fromPartial({ key: Buffer.from('a') }));
    const b = requestSerialize(etcdserverpb.PutRequest.fromPartial({ key: Buffer.from('bb') }));
    expect(Buffer.from(requestDeserialize(a).key).toString()).toBe('a');
    expect(Buffer.from(requestDeserialize(b).key).toString()).toBe('bb');
    // A lease id that does not fit int64 fails the encode mid-message...
    expect(() =>
      requestSerialize(
        etcdserverpb.PutRequest.fromPartial({ key: Buffer.from('x'), lease: 2n ** 64n }),
      ),
    ).toThrow(/too large/);
    // ...and the next message is still encoded from a clean writer.
    const c = requestSerialize(etcdserverpb.PutRequest.fromPartial({ key: Buffer.from('c') }));
    expect(requestDeserialize(c)).toEqual(
      etcdserverpb.PutRequest.fromPartial({ key: Buffer.from('c') }),
    );
  });

  it('number-typed 64-bit fields encode small, large and negative values exactly', () => {
    for (const TTL of [0, -1, 1, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER, -(2 ** 40)]) {
      const msg = etcdserverpb.LeaseTimeToLiveResponse.fromPartial({ TTL, grantedTTL: 5 });
      const back = etcdserverpb.LeaseTimeToLiveResponse.decode(
        encodeMessage(etcdserverpb.LeaseTimeToLiveResponse, msg),
      );
      expect(back.TTL).toBe(TTL);
    }
    // -1 as int64 is ten bytes of two's complement, as every protobuf encoder writes it.
    const ttl = etcdserverpb.LeaseTimeToLiveResponse.fromPartial({ TTL: -1 });
    expect(
      Buffer.from(encodeMessage(etcdserverpb.LeaseTimeToLiveResponse, ttl)).toString('hex'),
    ).toBe('18ffffffffffffffffff01');
    const status = etcdserverpb.StatusResponse.fromPartial({ raftIndex: 2 ** 40 + 3 });
    expect(
      etcdserverpb.StatusResponse.decode(encodeMessage(etcdserverpb.StatusResponse, status))
        .raftIndex,
    ).toBe(2 ** 40 + 3);
    expect(() =>
      encodeMessage(
        etcdserverpb.StatusResponse,
        etcdserverpb.StatusResponse.fromPartial({ raftIndex: -1 }),
      ),
    ).toThrow(/non-negative safe integer/);
    expect(() =>
      encodeMessage(mvccpb.KeyValue, mvccpb.KeyValue.fromPartial({ version: 1.5 })),
    ).toThrow(/safe integer/);
  });
});

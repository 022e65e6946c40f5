import { describe, expect, it } from 'vitest';
import { IdLabels, Normaliser, type ServerIdentity } from './normalise.js';
import { Target } from './target.js';

const server = (memberId: string, port: number): ServerIdentity => ({
  memberId,
  clusterId: `9${memberId}`,
  peerUrl: `http://127.0.0.1:${port}`,
  clientUrl: `http://127.0.0.1:${port + 1}`,
  startRevision: 1,
});

describe('IdLabels', () => {
  it('labels ids by first appearance, the same way on both servers', () => {
    const a = new IdLabels('lease');
    const b = new IdLabels('lease');
    const seqA = ['700', '12', '700', '9', '12'];
    const seqB = ['5', '31337', '5', '44', '31337'];
    expect(seqA.map((x) => a.label(x))).toEqual(seqB.map((x) => b.label(x)));
    expect(a.label('700')).toBe('lease#1');
    expect(a.rawOf('lease#2')).toBe('12');
    expect(a.label('0')).toBe('0');
  });

  it('keeps an id the client chose as itself', () => {
    const a = new IdLabels('lease');
    a.fix('42');
    expect(a.label('42')).toBe('42');
    expect(a.label('43')).toBe('lease#1');
    // An id already labelled keeps its label.
    a.fix('43');
    expect(a.label('43')).toBe('lease#1');
  });
});

describe('Normaliser', () => {
  const na = new Normaliser(server('111', 2380));
  const nb = new Normaliser(server('222', 3380));

  it('maps the header ids, term and revision of both servers to the same values', () => {
    const h = (n: Normaliser, id: string) =>
      n.response('KV.Put', {
        header: { cluster_id: `9${id}`, member_id: id, revision: 5, raft_term: 2 },
      });
    expect(h(na, '111')).toEqual(h(nb, '222'));
    expect(h(na, '111')).toEqual({
      header: { cluster_id: 'cluster', member_id: 'self', revision: 5, raft_term: 'term' },
    });
  });

  it('labels server-picked lease ids consistently across responses', () => {
    const a = new Normaliser(server('1', 10));
    const b = new Normaliser(server('2', 20));
    for (const [n, l1, l2] of [
      [a, '7587886927342390273', '7587886927342390280'],
      [b, '3', '99'],
    ] as const) {
      expect(n.response('Lease.LeaseGrant', { ID: l1, TTL: 60 }).ID).toBe('lease#1');
      expect(n.response('Lease.LeaseGrant', { ID: l2, TTL: 60 }).ID).toBe('lease#2');
      expect(n.response('KV.Range', { kvs: [{ key: 'k', lease: l2 }] }).kvs).toEqual([
        { key: 'k', lease: 'lease#2' },
      ]);
      // Listed in map order by etcd: compared as a set.
      expect(n.response('Lease.LeaseLeases', { leases: [{ ID: l2 }, { ID: l1 }] })).toEqual(
        n.response('Lease.LeaseLeases', { leases: [{ ID: l1 }, { ID: l2 }] }),
      );
    }
  });

  it('masks what is the server own: tokens, sizes, versions, indexes, URLs, remaining TTLs', () => {
    const status = (n: Normaliser, id: string, v: string, size: number) =>
      n.response('Maintenance.Status', {
        version: v,
        dbSize: size,
        dbSizeInUse: size / 2,
        leader: id,
        raftIndex: 9,
        raftAppliedIndex: 9,
        raftTerm: 2,
        errors: [`memberID:${id} alarm:NOSPACE `],
      });
    expect(status(na, '111', '3.4.23', 20480)).toEqual(status(nb, '222', '3.5.0', 61440));
    expect(na.response('Auth.Authenticate', { token: 'abc.12' })).toEqual(
      nb.response('Auth.Authenticate', { token: 'xyz.99' }),
    );
    expect(
      na.response('Cluster.MemberList', {
        members: [
          { ID: '111', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2381'] },
        ],
      }),
    ).toEqual(
      nb.response('Cluster.MemberList', {
        members: [
          { ID: '222', peerURLs: ['http://127.0.0.1:3380'], clientURLs: ['http://127.0.0.1:3381'] },
        ],
      }),
    );
    const ttl = (n: Normaliser, t: number) =>
      n.response('Lease.LeaseTimeToLive', { ID: '5', TTL: t, grantedTTL: 600 });
    expect(ttl(na, 599)).toEqual(ttl(nb, 597));
    expect(ttl(na, -1)).not.toEqual(ttl(nb, 599));
    expect(na.message('member 111 (6f) not found'.replace('6f', (111).toString(16)))).toBe(
      'member <self> (<self>) not found',
    );
  });

  it('keeps revisions relative to where the server started', () => {
    const n = new Normaliser({ ...server('1', 10), startRevision: 5 });
    expect(n.rev(5)).toBe(1);
    expect(n.rev(9)).toBe(5);
    expect(n.rev(0)).toBe(0);
    expect(n.rev(-1)).toBe(-1);
  });
});

describe('Target.resolve', () => {
  it('resolves refs to each server ids and labels literal ids as themselves', () => {
    const t = new Target('t', '127.0.0.1:1', server('111', 2380));
    try {
      const req = t.resolve('KV.Put', { key: 'k', lease: { $lease: 3 } });
      expect(req.lease).toBe('7046029254386353131'); // nothing saved lease 3: the dangling id
      expect(t.resolve('Cluster.MemberRemove', { ID: { $member: 'self' } }).ID).toBe('111');
      expect(
        t.resolve('Cluster.MemberAdd', { peerURLs: [{ $url: 'self-peer' }] }).peerURLs,
      ).toEqual(['http://127.0.0.1:2380']);
      t.resolve('Lease.LeaseRevoke', { ID: 99 });
      expect(t.norm.leases.label('99')).toBe('99');
      t.resolve('KV.Txn', { success: [{ request_put: { key: 'a', lease: '-1' } }] });
      expect(t.norm.leases.label('-1')).toBe('-1');
    } finally {
      t.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { membershipFromV2Store } from './membership.js';

const node = (path: string, value: string, children: Record<string, unknown> | null) => ({
  Path: path,
  CreatedIndex: 1,
  ModifiedIndex: 1,
  ExpireTime: '0001-01-01T00:00:00Z',
  Value: value,
  Children: children,
});

describe('membershipFromV2Store', () => {
  it("reads members, removed members and the version from etcd 3.4's v2 store", () => {
    // The shape `etcdctl snapshot restore` (3.4) writes into member/snap/*.snap.
    const store = {
      Root: node('/', '', {
        '0': node('/0', '', {
          members: node('/0/members', '', {
            b71f75320dc06a6c: node('/0/members/b71f75320dc06a6c', '', {
              raftAttributes: node(
                '/0/members/b71f75320dc06a6c/raftAttributes',
                '{"peerURLs":["http://127.0.0.1:2380"]}',
                null,
              ),
              attributes: node(
                '/0/members/b71f75320dc06a6c/attributes',
                '{"name":"n1","clientURLs":["http://127.0.0.1:2379"]}',
                null,
              ),
            }),
            '9d3e65edfa29c46': node('/0/members/9d3e65edfa29c46', '', {
              raftAttributes: node(
                '/0/members/9d3e65edfa29c46/raftAttributes',
                '{"peerURLs":["http://127.0.0.1:2381"],"isLearner":true}',
                null,
              ),
            }),
          }),
          removed_members: node('/0/removed_members', '', {
            '1234': node('/0/removed_members/1234', 'removed', null),
          }),
          version: node('/0/version', '3.4.0', null),
        }),
        '1': node('/1', '', {}),
      }),
      CurrentIndex: 2,
      CurrentVersion: 2,
    };
    const m = membershipFromV2Store(Buffer.from(JSON.stringify(store)));
    expect(m).toEqual({
      members: [
        {
          id: 0xb71f75320dc06a6cn,
          name: 'n1',
          peerUrls: ['http://127.0.0.1:2380'],
          clientUrls: ['http://127.0.0.1:2379'],
          isLearner: false,
        },
        {
          id: 0x9d3e65edfa29c46n,
          name: '',
          peerUrls: ['http://127.0.0.1:2381'],
          clientUrls: [],
          isLearner: true,
        },
      ],
      removed: [0x1234n],
      version: '3.4.0',
    });
  });

  it("is undefined for data that is not a v2 store (etcd-ts's own snapshots)", () => {
    expect(membershipFromV2Store(Buffer.from('{"members":[],"clusterVersion":""}'))).toBe(
      undefined,
    );
    expect(membershipFromV2Store(Buffer.from('not json'))).toBe(undefined);
  });
});

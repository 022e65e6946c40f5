import { etcdserverpb } from '@etcd-ts/api';
import type { CallOptions, Connection } from './connection.js';

/** Membership (clientv3's Cluster). Member ids are bigint. */
export class Cluster {
  constructor(private readonly conn: Connection) {}

  /** Lists the members; `linearizable` reads the list through consensus (etcd >= 3.5). */
  memberList(
    options: { linearizable?: boolean } & CallOptions = {},
  ): Promise<etcdserverpb.MemberListResponse> {
    return this.conn.unary(
      etcdserverpb.ClusterService.memberList,
      { linearizable: options.linearizable ?? false },
      'idempotent',
      options,
    );
  }

  /** Adds a member (a non-voting learner with `isLearner`) reachable at `peerURLs`. */
  memberAdd(
    peerURLs: string[],
    options: { isLearner?: boolean } & CallOptions = {},
  ): Promise<etcdserverpb.MemberAddResponse> {
    return this.conn.unary(
      etcdserverpb.ClusterService.memberAdd,
      { peerURLs, isLearner: options.isLearner ?? false },
      'mutation',
      options,
    );
  }

  memberRemove(id: bigint, options: CallOptions = {}): Promise<etcdserverpb.MemberRemoveResponse> {
    return this.conn.unary(
      etcdserverpb.ClusterService.memberRemove,
      { ID: id },
      'mutation',
      options,
    );
  }

  memberUpdate(
    id: bigint,
    peerURLs: string[],
    options: CallOptions = {},
  ): Promise<etcdserverpb.MemberUpdateResponse> {
    return this.conn.unary(
      etcdserverpb.ClusterService.memberUpdate,
      { ID: id, peerURLs },
      'mutation',
      options,
    );
  }

  /** Makes a learner that caught up with the leader a voting member. */
  memberPromote(
    id: bigint,
    options: CallOptions = {},
  ): Promise<etcdserverpb.MemberPromoteResponse> {
    return this.conn.unary(
      etcdserverpb.ClusterService.memberPromote,
      { ID: id },
      'mutation',
      options,
    );
  }
}

import type { membershippb } from '@etcd-ts/api';
import { type ConfChange, ConfChangeType } from '@etcd-ts/raft';
import type { Logger } from '../config.js';
import { idToHex } from '../ids.js';
import { type Member, memberFromJson, type RaftCluster } from '../membership.js';

/**
 * A committed ConfChange applied to the membership (etcd's RaftCluster.ApplyConfChange
 * side of applyConfChange): add (voter or learner), promote (AddNode of a learner),
 * remove, update. Raft's own configuration is changed by the raft node; `persist` is false
 * for entries the backend already holds. Returns the members after the change.
 */
export function applyConfChange(
  cluster: RaftCluster,
  cc: ConfChange,
  persist: boolean,
  lg: Logger,
): Member[] {
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
    case ConfChangeType.ConfChangeAddLearnerNode: {
      const m = memberFromJson(Buffer.from(cc.context).toString('utf8'));
      if (m.id !== cc.nodeId)
        throw new Error('membership: ConfChange node id and member id differ');
      const existing = cluster.member(m.id);
      if (existing !== undefined && cc.type === ConfChangeType.ConfChangeAddNode) {
        // Promotion of a learner.
        cluster.updateRaftAttributes(m.id, existing.peerUrls, false, persist);
      } else if (existing === undefined) {
        cluster.addMember(m, persist);
        lg.info(
          {
            'cluster-id': idToHex(cluster.clusterId),
            'local-member-id': idToHex(cluster.localId),
            'added-peer-id': idToHex(m.id),
            'added-peer-peer-urls': m.peerUrls,
          },
          'added member',
        );
      }
      break;
    }
    case ConfChangeType.ConfChangeRemoveNode:
      cluster.removeMember(cc.nodeId, persist);
      lg.info({ 'removed-remote-peer-id': idToHex(cc.nodeId) }, 'removed member');
      break;
    case ConfChangeType.ConfChangeUpdateNode: {
      const m = memberFromJson(Buffer.from(cc.context).toString('utf8'));
      const existing = cluster.member(m.id);
      cluster.updateRaftAttributes(m.id, m.peerUrls, existing?.isLearner ?? false, persist);
      break;
    }
  }
  return cluster.sortedMembers();
}

/** A member publishing its name and client URLs (etcd's ClusterMemberAttrSet). */
export function applyMemberAttrSet(
  cluster: RaftCluster,
  a: membershippb.ClusterMemberAttrSetRequest,
): void {
  cluster.updateAttributes(
    a.memberID,
    a.memberAttributes?.name ?? '',
    a.memberAttributes?.clientUrls ?? [],
    true,
  );
}

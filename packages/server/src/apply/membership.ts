import type { membershippb } from '@etcd-ts/api';
import { type ConfChange, ConfChangeType } from '@etcd-ts/raft';
import type { Logger } from '../config.js';
import { MembershipError } from '../errors.js';
import { idToHex } from '../ids.js';
import { type Member, memberFromJson, type RaftCluster } from '../membership.js';

/** etcd's maxLearners: one learner at a time. */
export const MAX_LEARNERS = 1;

/**
 * A ConfChange's context for adding or promoting (etcd's ConfigChangeContext): the
 * member's JSON, with `"isPromote":true` when an AddNode promotes a learner.
 */
export function confChangeContext(cc: ConfChange): { member: Member; isPromote: boolean } {
  const text = Buffer.from(cc.context).toString('utf8');
  const o = JSON.parse(text) as { isPromote?: boolean };
  return { member: memberFromJson(text), isPromote: o.isPromote === true };
}

/** The context of a promotion of learner `id` (etcd marshals only the id and the flag). */
export function promoteContext(id: bigint): Uint8Array {
  return Buffer.from(`{"id":${BigInt.asUintN(64, id)},"peerURLs":null,"isPromote":true}`);
}

/**
 * Whether a committed ConfChange may apply to the membership as it is (etcd's
 * ValidateConfigurationChange, run at apply time on every member): throws the membership
 * error it breaks; the change then applies to raft as a no-op.
 */
export function validateConfChange(cluster: RaftCluster, cc: ConfChange): void {
  const id = cc.nodeId;
  if (cluster.removed.has(id)) throw MembershipError.idRemoved();
  const existing = cluster.member(id);
  switch (cc.type) {
    case ConfChangeType.ConfChangeAddNode:
    case ConfChangeType.ConfChangeAddLearnerNode: {
      const { member, isPromote } = confChangeContext(cc);
      if (isPromote) {
        if (existing === undefined) throw MembershipError.idNotFound();
        if (!existing.isLearner) throw MembershipError.memberNotLearner();
        return;
      }
      if (existing !== undefined) throw MembershipError.idExists();
      const used = new Set<string>();
      for (const m of cluster.members.values()) for (const u of m.peerUrls) used.add(u);
      if (member.peerUrls.some((u) => used.has(u))) throw MembershipError.peerURLExists();
      if (member.isLearner) {
        let learners = 0;
        for (const m of cluster.members.values()) if (m.isLearner) learners++;
        if (learners + 1 > MAX_LEARNERS) throw MembershipError.tooManyLearners();
      }
      return;
    }
    case ConfChangeType.ConfChangeRemoveNode:
      if (existing === undefined) throw MembershipError.idNotFound();
      return;
    case ConfChangeType.ConfChangeUpdateNode: {
      if (existing === undefined) throw MembershipError.idNotFound();
      const used = new Set<string>();
      for (const m of cluster.members.values())
        if (m.id !== id) for (const u of m.peerUrls) used.add(u);
      const m = memberFromJson(Buffer.from(cc.context).toString('utf8'));
      if (m.peerUrls.some((u) => used.has(u))) throw MembershipError.peerURLExists();
      return;
    }
  }
}

/**
 * A committed, validated ConfChange applied to the membership (etcd's
 * RaftCluster.ApplyConfChange side of applyConfChange): add (voter or learner), promote,
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
      const { member, isPromote } = confChangeContext(cc);
      if (member.id !== cc.nodeId)
        throw new Error('membership: ConfChange node id and member id differ');
      if (isPromote) {
        const m = cluster.member(member.id)!;
        cluster.updateRaftAttributes(m.id, m.peerUrls, false, persist);
        lg.info({ 'promoted-member-id': idToHex(m.id) }, 'promote member');
        break;
      }
      cluster.addMember(member, persist);
      lg.info(
        {
          'cluster-id': idToHex(cluster.clusterId),
          'local-member-id': idToHex(cluster.localId),
          'added-peer-id': idToHex(member.id),
          'added-peer-peer-urls': member.peerUrls,
          'added-peer-is-learner': member.isLearner,
        },
        'added member',
      );
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
      lg.info(
        { 'updated-remote-peer-id': idToHex(m.id), 'updated-remote-peer-urls': m.peerUrls },
        'updated member',
      );
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

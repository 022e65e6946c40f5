import type { etcdserverpb } from '@etcd-ts/api';
import { ConfChangeType } from '@etcd-ts/raft';
import type { CallIdentity } from '../auth.js';
import { Errors } from '../errors.js';
import { computeMemberId } from '../ids.js';
import { checkUrl, type Member, memberToJson } from '../membership.js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

function toPb(m: Member): etcdserverpb.Member {
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

/**
 * Whether enough members have started for a voting-membership change to keep a quorum
 * (etcd's --strict-reconfig-check, on by default): started means published a name.
 */
function readyForVoterChange(s: EtcdServer, delta: 1 | -1, removed?: bigint): boolean {
  const voters = [...s.cluster.members.values()].filter((m) => !m.isLearner && m.id !== removed);
  const started = voters.filter((m) => m.name !== '').length;
  const total = delta === 1 ? voters.length + 1 : voters.length;
  // etcd lets a lone started member take a second voter (restoring a cluster from one
  // member's data), although that loses quorum until the new member starts.
  if (delta === 1 && started === 1 && total === 2) return true;
  const quorum = Math.floor(total / 2) + 1;
  return total > 0 && started >= quorum;
}

/** Checks that a call's user has the root role (throws etcd's auth error when refused). */
export type RootCheck = (call: CallIdentity) => Promise<void>;

/**
 * etcd's Cluster service. Voting changes keep etcd's strict reconfiguration check. With
 * auth enabled every membership change (add, remove, update, promote) needs the root role,
 * checked before anything else is looked at or proposed (etcd's
 * checkMembershipOperationPermission; only MemberAdd's URL parsing comes first); MemberList
 * needs no permission.
 */
export function clusterService(
  s: EtcdServer,
  opts: { requireRoot?: RootCheck } = {},
): etcdserverpb.ClusterServer {
  const root = async (call: CallIdentity) => {
    if (opts.requireRoot !== undefined) await opts.requireRoot(call);
  };
  const members = () => s.cluster.sortedMembers().map(toPb);
  // etcd's cluster server answers without a revision in the header.
  const header = () => ({ ...s.header(), revision: 0 });
  return {
    memberList: unary(async (req) => {
      if (req.linearizable) await s.linearizableReadNotify();
      return { header: header(), members: members() };
    }),
    memberAdd: unary(async (req, call) => {
      try {
        for (const u of req.peerURLs) checkUrl(u, 'peerURLs');
      } catch {
        throw Errors.memberBadURLs();
      }
      if (req.peerURLs.length === 0) throw Errors.memberBadURLs();
      await root(call);
      const id = computeMemberId(req.peerURLs, '', Date.now() / 1000);
      const m: Member = {
        id,
        name: '',
        peerUrls: [...req.peerURLs],
        clientUrls: [],
        isLearner: req.isLearner,
      };
      s.cluster.validateAdd(m);
      if (!req.isLearner && !readyForVoterChange(s, 1)) throw Errors.memberNotEnoughStarted();
      await s.proposeConfChange({
        type: req.isLearner
          ? ConfChangeType.ConfChangeAddLearnerNode
          : ConfChangeType.ConfChangeAddNode,
        nodeId: id,
        context: Buffer.from(memberToJson(m)),
      });
      return { header: header(), member: toPb(m), members: members() };
    }),
    memberRemove: unary(async (req, call) => {
      await root(call);
      const m = s.cluster.member(req.ID);
      if (m === undefined) throw Errors.memberNotFound();
      if (!m.isLearner && !readyForVoterChange(s, -1, m.id)) throw Errors.memberNotEnoughStarted();
      await s.proposeConfChange({
        type: ConfChangeType.ConfChangeRemoveNode,
        nodeId: req.ID,
        context: new Uint8Array(0),
      });
      return { header: header(), members: members() };
    }),
    memberUpdate: unary(async (req, call) => {
      await root(call);
      const m = s.cluster.member(req.ID);
      if (m === undefined) throw Errors.memberNotFound();
      try {
        for (const u of req.peerURLs) checkUrl(u, 'peerURLs');
      } catch {
        throw Errors.memberBadURLs();
      }
      for (const o of s.cluster.members.values())
        if (o.id !== m.id && o.peerUrls.some((u) => req.peerURLs.includes(u)))
          throw Errors.peerURLExist();
      const updated: Member = { ...m, peerUrls: [...req.peerURLs] };
      await s.proposeConfChange({
        type: ConfChangeType.ConfChangeUpdateNode,
        nodeId: m.id,
        context: Buffer.from(memberToJson(updated)),
      });
      return { header: header(), members: members() };
    }),
    memberPromote: unary(async (req, call) => {
      await root(call);
      const m = s.cluster.member(req.ID);
      if (m === undefined) throw Errors.memberNotFound();
      if (!m.isLearner) throw Errors.memberNotLearner();
      // A learner is ready once its log is close to the leader's; without a peer
      // transport a learner never replicates anything, so it is never in sync.
      throw Errors.learnerNotReady();
    }),
  };
}

import type { etcdserverpb } from '@etcd-ts/api';
import { ConfChangeType } from '@etcd-ts/raft';
import { Errors } from '../errors.js';
import { computeMemberId } from '../ids.js';
import { checkUrl, type Member, memberToJson } from '../membership.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';

function toPb(m: Member): etcdserverpb.Member {
  return {
    ID: m.id,
    name: m.name,
    peerURLs: [...m.peerUrls],
    clientURLs: [...m.clientUrls],
    isLearner: m.isLearner,
  };
}

function checkPeerUrls(urls: string[]): void {
  try {
    for (const u of urls) checkUrl(u, 'peerURLs');
  } catch {
    throw Errors.memberBadURLs();
  }
}

/**
 * etcd's cluster membership requests (v3_server/server.go AddMember, RemoveMember,
 * UpdateMember, PromoteMember, and the member list). With auth enabled every change needs
 * the root role, checked before anything is proposed (etcd's
 * checkMembershipOperationPermission; only MemberAdd's URL parsing comes first); the list
 * needs none. Voting changes keep etcd's strict reconfiguration check.
 */
export class Cluster {
  constructor(private readonly s: EtcdServer) {}

  /** etcd's cluster server answers without a revision in the header. */
  private reply() {
    return {
      header: { ...this.s.header(), revision: 0 },
      members: this.s.cluster.sortedMembers().map(toPb),
    };
  }

  async memberList(req: etcdserverpb.MemberListRequest): Promise<etcdserverpb.MemberListResponse> {
    if (req.linearizable) await this.s.linearizableReadNotify();
    return this.reply();
  }

  async memberAdd(
    req: etcdserverpb.MemberAddRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MemberAddResponse> {
    checkPeerUrls(req.peerURLs);
    if (req.peerURLs.length === 0) throw Errors.memberBadURLs();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const m: Member = {
      id: computeMemberId(req.peerURLs, '', this.s.clock.now() / 1000),
      name: '',
      peerUrls: [...req.peerURLs],
      clientUrls: [],
      isLearner: req.isLearner,
    };
    this.s.cluster.validateAdd(m);
    if (!req.isLearner && !this.readyForVoterChange(1)) throw Errors.memberNotEnoughStarted();
    await this.s.proposeConfChange({
      type: req.isLearner
        ? ConfChangeType.ConfChangeAddLearnerNode
        : ConfChangeType.ConfChangeAddNode,
      nodeId: m.id,
      context: Buffer.from(memberToJson(m)),
    });
    return { ...this.reply(), member: toPb(m) };
  }

  async memberRemove(
    req: etcdserverpb.MemberRemoveRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MemberRemoveResponse> {
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const m = this.member(req.ID);
    if (!m.isLearner && !this.readyForVoterChange(-1, m.id)) throw Errors.memberNotEnoughStarted();
    await this.s.proposeConfChange({
      type: ConfChangeType.ConfChangeRemoveNode,
      nodeId: req.ID,
      context: new Uint8Array(0),
    });
    return this.reply();
  }

  async memberUpdate(
    req: etcdserverpb.MemberUpdateRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MemberUpdateResponse> {
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const m = this.member(req.ID);
    checkPeerUrls(req.peerURLs);
    for (const o of this.s.cluster.members.values())
      if (o.id !== m.id && o.peerUrls.some((u) => req.peerURLs.includes(u)))
        throw Errors.peerURLExist();
    await this.s.proposeConfChange({
      type: ConfChangeType.ConfChangeUpdateNode,
      nodeId: m.id,
      context: Buffer.from(memberToJson({ ...m, peerUrls: [...req.peerURLs] })),
    });
    return this.reply();
  }

  async memberPromote(
    req: etcdserverpb.MemberPromoteRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MemberPromoteResponse> {
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const m = this.member(req.ID);
    if (!m.isLearner) throw Errors.memberNotLearner();
    // A learner is ready once its log is close to the leader's; without a peer transport
    // a learner never replicates anything, so it is never in sync.
    throw Errors.learnerNotReady();
  }

  private member(id: bigint): Member {
    const m = this.s.cluster.member(id);
    if (m === undefined) throw Errors.memberNotFound();
    return m;
  }

  /**
   * Whether enough members have started for a voting-membership change to keep a quorum
   * (etcd's --strict-reconfig-check, on by default): started means published a name.
   */
  private readyForVoterChange(delta: 1 | -1, removed?: bigint): boolean {
    const voters = [...this.s.cluster.members.values()].filter(
      (m) => !m.isLearner && m.id !== removed,
    );
    const started = voters.filter((m) => m.name !== '').length;
    const total = delta === 1 ? voters.length + 1 : voters.length;
    // etcd lets a lone started member take a second voter (restoring a cluster from one
    // member's data), although that loses quorum until the new member starts.
    if (delta === 1 && started === 1 && total === 2) return true;
    const quorum = Math.floor(total / 2) + 1;
    return total > 0 && started >= quorum;
  }
}

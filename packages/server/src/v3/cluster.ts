import type { etcdserverpb } from '@etcd-ts/api';
import { ConfChangeType } from '@etcd-ts/raft';
import { promoteContext } from '../apply/membership.js';
import { Errors, MembershipError } from '../errors.js';
import { computeMemberId } from '../ids.js';
import { checkUrl, type Member, memberListFromJson, memberToJson } from '../membership.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';
import { toLeader } from './forward.js';

/** etcd's readyPercent: a learner within 10 % of the leader's log may be promoted. */
const LEARNER_READY_PERCENT = 0.9;
/** etcd's HealthInterval: how long voters must have been connected for a membership change. */
const HEALTH_INTERVAL_MS = 5000;

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
    this.s.assertNotLearner();
    if (req.linearizable) await this.s.linearizableReadNotify();
    return this.reply();
  }

  async memberAdd(
    req: etcdserverpb.MemberAddRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MemberAddResponse> {
    this.s.assertNotLearner();
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
    if (this.strict && !req.isLearner && !this.readyForVoterChange(1))
      throw Errors.memberNotEnoughStarted();
    if (this.strict && !this.connectedFully()) throw Errors.unhealthy();
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
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const m = this.member(req.ID);
    if (this.strict && !m.isLearner && !this.readyForVoterChange(-1, m.id))
      throw Errors.memberNotEnoughStarted();
    if (this.strict && !m.isLearner && !this.quorumStaysConnected(m.id)) throw Errors.unhealthy();
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
    this.s.assertNotLearner();
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
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    // Only the leader knows whether the learner has caught up: a follower forwards.
    const members = this.s.isLeader()
      ? await this.promoteOnLeader(req.ID)
      : await this.promoteThroughLeader(req.ID);
    return {
      header: { ...this.s.header(), revision: 0 },
      members: members.map(toPb),
    };
  }

  /**
   * Promotes learner `id` to a voter (etcd's promoteMember on the leader): refused until the
   * learner's log is within 10 % of the leader's (etcd's isLearnerReady), and by the strict
   * reconfiguration check when too few members have started.
   */
  async promoteOnLeader(id: bigint): Promise<Member[]> {
    if (!this.s.isLeader()) throw Errors.notLeader();
    const m = this.member(id);
    if (!m.isLearner) throw Errors.memberNotLearner();
    const progress = this.s.raftProgress();
    const leaderMatch = progress.get(this.s.memberId)?.match ?? 0;
    const learnerMatch = progress.get(id)?.match ?? 0;
    if (learnerMatch < leaderMatch * LEARNER_READY_PERCENT) throw Errors.learnerNotReady();
    if (this.strict && !this.readyForVoterChange(1, undefined, id))
      throw Errors.memberNotEnoughStarted();
    return this.s.proposeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: id,
      context: promoteContext(id),
    });
  }

  /** A promotion asked of a follower, sent to the leader's POST /members/promote/<id>. */
  private async promoteThroughLeader(id: bigint): Promise<Member[]> {
    const r = await toLeader(
      this.s,
      `/members/promote/${BigInt.asUintN(64, id)}`,
      new Uint8Array(0),
    );
    const text = r.body.toString('utf8').trim();
    if (r.status === 200) return memberListFromJson(text);
    if (r.status === 404) throw Errors.memberNotFound();
    if (text === MembershipError.memberNotLearner().message) throw Errors.memberNotLearner();
    if (text === Errors.learnerNotReady().message) throw Errors.learnerNotReady();
    if (text === Errors.memberNotEnoughStarted().message) throw Errors.memberNotEnoughStarted();
    throw new Error(text);
  }

  /** Voters other than this member that have been connected for the last HEALTH_INTERVAL_MS. */
  private connectedSince(): { connected: number; voters: number } {
    const since = this.s.clock.now() - HEALTH_INTERVAL_MS;
    const t = this.s.peers.transport;
    let connected = 0;
    let voters = 0;
    for (const m of this.s.cluster.members.values()) {
      if (m.isLearner) continue;
      voters++;
      const active = m.id === this.s.memberId ? 1 : t.activeSince(m.id);
      if (m.id === this.s.memberId || (active !== 0 && active <= since)) connected++;
    }
    return { connected, voters };
  }

  /** Every voter has been connected for the last 5 s (etcd's isConnectedFullySince). */
  private connectedFully(): boolean {
    const { connected, voters } = this.connectedSince();
    return connected === voters;
  }

  /**
   * Removing `id` leaves a connected quorum (etcd's mayRemoveMember): a member that is down
   * may always go; otherwise the others that stay connected must be a majority.
   */
  private quorumStaysConnected(id: bigint): boolean {
    if (id !== this.s.memberId && this.s.peers.transport.activeSince(id) === 0) return true;
    const { connected, voters } = this.connectedSince();
    return connected - 1 >= 1 + Math.floor((voters - 1) / 2);
  }

  /** etcd's --strict-reconfig-check. */
  private get strict(): boolean {
    return this.s.cfg.strictReconfigCheck;
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
  private readyForVoterChange(delta: 1 | -1, removed?: bigint, promoted?: bigint): boolean {
    const voters = [...this.s.cluster.members.values()].filter(
      (m) => !m.isLearner && m.id !== removed,
    );
    // A learner being promoted counts as started (it has caught up with the leader).
    const started = voters.filter((m) => m.name !== '').length + (promoted === undefined ? 0 : 1);
    const total = delta === 1 ? voters.length + 1 : voters.length;
    // etcd lets a lone started member take a second voter (restoring a cluster from one
    // member's data), although that loses quorum until the new member starts.
    if (delta === 1 && started === 1 && total === 2) return true;
    const quorum = Math.floor(total / 2) + 1;
    return total > 0 && started >= quorum;
  }
}

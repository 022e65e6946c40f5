// The Raft state machine. One instance is one member of a group. It is driven
// entirely from outside: tick() advances logical time, step() feeds it a
// message (from a peer or a local request), and what it wants done (persist
// entries, send messages, apply committed entries) accumulates in its log and
// in `msgs` for RawNode to hand out in a Ready. It never performs I/O.
//
// Each role has its own step function (stepLeader, stepCandidate,
// stepFollower); step() first handles what is common to all: terms, votes.

import { decodeConfChange, decodeConfChangeV2 } from './codec.js';
import { type ChangeResult, Changer } from './confchange/confchange.js';
import { restoreConfState } from './confchange/restore.js';
import {
  ErrInvalidConfig,
  ErrProposalDropped,
  ErrSnapshotTemporarilyUnavailable,
} from './errors.js';
import { RaftLog } from './log.js';
import { discardLogger, type Logger, panic } from './logger.js';
import { jointVoteResult } from './quorum/joint.js';
import { VoteResult } from './quorum/quorum.js';
import {
  type ConfChangeV2,
  type ConfState,
  confChangeAsV2,
  confChangeEnterJoint,
  confChangeLeaveJoint,
  confStateEquivalent,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  type HardState,
  isEmptyHardState,
  isEmptySnapshot,
  type Message,
  MessageType,
  messageTypeName,
  type Snapshot,
} from './raftpb.js';
import { ReadOnly, ReadOnlyOption, type ReadState } from './read_only.js';
import type { Storage } from './storage.js';
import { type Progress, ProgressState } from './tracker/progress.js';
import { ProgressTracker, trackerConfigString } from './tracker/tracker.js';
import { NO_LIMIT, payloadsSize, voteRespMsgType } from './util.js';

/** The id meaning "nobody" (no leader, no vote). */
export const NONE = 0n;

export const StateType = {
  StateFollower: 0,
  StateCandidate: 1,
  StateLeader: 2,
  StatePreCandidate: 3,
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

const stateNames = ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'];
export function stateTypeName(s: StateType): string {
  return stateNames[s]!;
}

export interface Config {
  /** This member's id; never 0. */
  id: bigint;
  /**
   * Ticks a follower waits without hearing from a leader before it campaigns
   * (randomized in [electionTick, 2*electionTick)). Must exceed heartbeatTick;
   * etcd uses 10 * heartbeatTick.
   */
  electionTick: number;
  /** Ticks between the leader's heartbeats. */
  heartbeatTick: number;
  storage: Storage;
  /** The last applied index, when restarting (entries up to it are not handed out again). */
  applied?: number;
  /** Maximum bytes of entries in one MsgApp (at least one entry is always sent). 0: one entry per message. */
  maxSizePerMsg?: number;
  /** Maximum bytes of committed entries in one Ready. Defaults to maxSizePerMsg. */
  maxCommittedSizePerReady?: number;
  /** Maximum bytes of payload of uncommitted entries on the leader; proposals beyond are dropped. 0: no limit. */
  maxUncommittedEntriesSize?: number;
  /** Maximum MsgApps in flight to one follower in Replicate state. */
  maxInflightMsgs: number;
  /** Maximum bytes of payload in flight to one follower. 0: no limit. */
  maxInflightBytes?: number;
  /** A leader steps down when it has not heard from a quorum within an election timeout. */
  checkQuorum?: boolean;
  /** Run a pre-election first, so that a partitioned member does not disrupt the group when it returns. */
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  /** Drop proposals on followers instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  logger?: Logger;
  /** A uniform random integer in [0, n): the source of randomized election timeouts. */
  rand?: (n: number) => number;
}

export interface SoftState {
  lead: bigint;
  raftState: StateType;
}

const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

function isCampaignTransfer(ctx: Uint8Array): boolean {
  if (ctx.length !== CAMPAIGN_TRANSFER.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

const CampaignType = { PreElection: 0, Election: 1, Transfer: 2 } as const;
type CampaignType = (typeof CampaignType)[keyof typeof CampaignType];

function validate(c: Config): void {
  if (c.id === NONE) throw new ErrInvalidConfig('cannot use none as id');
  if (c.heartbeatTick <= 0) throw new ErrInvalidConfig('heartbeat tick must be greater than 0');
  if (c.electionTick <= c.heartbeatTick) {
    throw new ErrInvalidConfig('election tick must be greater than heartbeat tick');
  }
  if (c.storage === undefined) throw new ErrInvalidConfig('storage cannot be nil');
  if (c.maxInflightMsgs <= 0)
    throw new ErrInvalidConfig('max inflight messages must be greater than 0');
  if ((c.maxInflightBytes ?? 0) < 0) throw new ErrInvalidConfig('max inflight bytes must be >= 0');
  if (c.readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !c.checkQuorum) {
    throw new ErrInvalidConfig(
      'CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased',
    );
  }
}

/** A message with every field set, so that all messages share one shape. */
function msg(type: MessageType, to: bigint): Message {
  return {
    type,
    to,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
  };
}

export class Raft {
  readonly id: bigint;
  term = 0;
  vote: bigint = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  prs: ProgressTracker;
  state: StateType = StateType.StateFollower;
  /** Whether this member is a learner in the current configuration. */
  isLearner = false;
  /** Messages to send, handed out in the next Ready. */
  msgs: Message[] = [];
  lead: bigint = NONE;
  /** The member leadership is being transferred to, or NONE. */
  leadTransferee: bigint = NONE;
  /**
   * The index of the latest configuration change the leader proposed; no new
   * one is accepted until it is applied (one change at a time).
   */
  pendingConfIndex = 0;
  /** Bytes of payload of the leader's uncommitted entries (an estimate; see MaxUncommittedEntriesSize). */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** Ticks since the last election timeout (or, on a leader, since the last CheckQuorum). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  /** ReadIndex requests that arrived before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  readonly logger: Logger;
  /**
   * Set by RawNode while it steps a proposal whose entries it created for
   * that call: raft may then fill in their term and index instead of copying.
   */
  proposalOwned = false;
  private readonly rand: (n: number) => number;
  private stepFn: (m: Message) => void;
  tick: () => void;

  constructor(c: Config) {
    validate(c);
    this.logger = c.logger ?? discardLogger;
    const maxSizePerMsg = c.maxSizePerMsg ?? 0;
    this.raftLog = new RaftLog(
      c.storage,
      this.logger,
      c.maxCommittedSizePerReady || maxSizePerMsg || NO_LIMIT,
    );
    this.id = c.id;
    this.maxMsgSize = maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ? c.maxUncommittedEntriesSize : NO_LIMIT;
    this.prs = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes ?? 0);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum ?? false;
    this.preVote = c.preVote ?? false;
    this.readOnly = new ReadOnly(c.readOnlyOption ?? ReadOnlyOption.ReadOnlySafe);
    this.disableProposalForwarding = c.disableProposalForwarding ?? false;
    this.rand = c.rand ?? ((n: number) => Math.floor(Math.random() * n));
    this.stepFn = this.stepFollower;
    this.tick = this.tickElection;

    const { hardState, confState } = c.storage.initialState();
    const r = restoreConfState(new Changer(this.prs, this.raftLog.lastIndex()), confState);
    assertConfStatesEquivalent(this.logger, confState, this.switchToConfig(r));
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info(
      `newRaft ${this.id.toString(16)} [peers: [${this.prs
        .voterNodes()
        .map((n) => n.toString(16))
        .join(
          ',',
        )}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Queues m for sending, filling in from and the term as the message type requires. */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      // Vote messages carry the term they are about (the next term, for a pre-vote).
      if (m.term === 0) panic(this.logger, `term should be set when sending ${messageTypeName(t)}`);
    } else {
      if (m.term !== 0) {
        panic(
          this.logger,
          `term should not be set when sending ${messageTypeName(t)} (was ${m.term})`,
        );
      }
      // Proposals and read requests are forwarded as local messages; they keep term 0.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends entries (or a snapshot, if the entries are compacted) to `to`.
   * Returns whether a message was sent: nothing is sent when the follower is
   * paused, or when there is nothing new and sendIfEmpty is false.
   */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to)!;
    if (pr.isPaused()) return false;
    let term = 0;
    let ents: Entry[] | undefined;
    try {
      term = this.raftLog.term(pr.next - 1);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch {
      ents = undefined; // compacted: send a snapshot instead
    }
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;

    if (ents === undefined) {
      if (!pr.recentActive) {
        this.logger.debug(
          `ignore sending snapshot to ${to.toString(16)} since it is not recently active`,
        );
        return false;
      }
      let snapshot: Snapshot;
      try {
        snapshot = this.raftLog.snapshot();
      } catch (err) {
        if (err instanceof ErrSnapshotTemporarilyUnavailable) {
          this.logger.debug(
            `${this.id.toString(16)} failed to send snapshot to ${to.toString(16)} because snapshot is temporarily unavailable`,
          );
          return false;
        }
        throw err;
      }
      if (isEmptySnapshot(snapshot)) panic(this.logger, 'need non-empty snapshot');
      const m = msg(MessageType.MsgSnap, to);
      m.snapshot = snapshot;
      this.logger.debug(
        `${this.id.toString(16)} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${snapshot.metadata.index}, term: ${snapshot.metadata.term}] to ${to.toString(16)} [${pr}]`,
      );
      pr.becomeSnapshot(snapshot.metadata.index);
      this.send(m);
      return true;
    }

    const m = msg(MessageType.MsgApp, to);
    m.index = pr.next - 1;
    m.logTerm = term;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    if (ents.length !== 0) pr.sentEntries(ents.length, payloadsSize(ents));
    this.send(m);
    return true;
  }

  sendHeartbeat(to: bigint, ctx: Uint8Array): void {
    // A follower may not have all committed entries yet: never let the
    // heartbeat advance its commit index past what it is known to have.
    const m = msg(MessageType.MsgHeartbeat, to);
    m.commit = Math.min(this.prs.progress.get(to)!.match, this.raftLog.committed);
    m.context = ctx;
    this.send(m);
  }

  bcastAppend(): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx() ?? EMPTY_BYTES);
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  /**
   * The application has handled a Ready: mark its entries and snapshot
   * stable, and its committed entries applied.
   */
  advance(rd: {
    entries: Entry[];
    committedEntries: Entry[];
    snapshot: Snapshot | undefined;
  }): void {
    this.reduceUncommittedSize(rd.committedEntries);
    const newApplied = appliedCursor(rd);
    if (newApplied > 0) {
      const oldApplied = this.raftLog.applied;
      this.raftLog.appliedTo(newApplied);
      if (
        this.prs.config.autoLeave &&
        oldApplied <= this.pendingConfIndex &&
        newApplied >= this.pendingConfIndex &&
        this.state === StateType.StateLeader
      ) {
        // The joint configuration was entered with automatic leaving and is
        // now applied: propose the empty ConfChangeV2 that leaves it. This
        // cannot be refused (it carries no payload).
        const ent: Entry = {
          term: 0,
          index: 0,
          type: EntryType.EntryConfChangeV2,
          data: EMPTY_BYTES,
        };
        if (!this.appendEntry([ent]))
          panic(this.logger, 'refused un-refusable auto-leaving ConfChangeV2');
        this.pendingConfIndex = this.raftLog.lastIndex();
        this.logger.info(
          `initiating automatic transition out of joint configuration ${trackerConfigString(this.prs.config)}`,
        );
      }
    }
    if (rd.entries.length > 0) {
      const e = rd.entries[rd.entries.length - 1]!;
      this.raftLog.stableTo(e.index, e.term);
    }
    if (!isEmptySnapshot(rd.snapshot)) this.raftLog.stableSnapTo(rd.snapshot!.metadata.index);
  }

  /** Advances the commit index to what a quorum has; returns whether it moved. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    for (const [id, pr] of this.prs.progress) {
      pr.match = id === this.id ? lastIndex : 0;
      pr.next = lastIndex + 1;
      pr.state = ProgressState.StateProbe;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.msgAppFlowPaused = false;
      pr.inflights = this.prs.newInflights();
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /** Appends entries proposed on this leader. Returns false if the uncommitted size limit refuses them. */
  appendEntry(proposed: Entry[], owned = false): boolean {
    // Log entries never change once appended. Proposals that raft owns
    // (created by RawNode for this call) get their term and index in place;
    // others (a message that may be delivered twice in-process) are copied.
    const li = this.raftLog.lastIndex();
    const term = this.term;
    const n = proposed.length;
    let es: Entry[];
    if (owned) {
      es = proposed;
      for (let i = 0; i < n; i++) {
        const e = proposed[i]!;
        e.term = term;
        e.index = li + 1 + i;
      }
    } else {
      es = [];
      for (let i = 0; i < n; i++) {
        const p = proposed[i]!;
        es.push({ term, index: li + 1 + i, type: p.type, data: p.data });
      }
    }
    if (!this.increaseUncommittedSize(es)) {
      this.logger.debug(
        `${this.id.toString(16)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      return false;
    }
    const last = this.raftLog.append(es);
    // The leader has the entries "in its log" now: it acknowledges them to itself.
    this.prs.progress.get(this.id)!.maybeUpdate(last);
    this.maybeCommit();
    return true;
  }

  /** The tick of followers and candidates: campaign when the election timeout passes. */
  tickElection = (): void => {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(this.localMsg(MessageType.MsgHup));
    }
  };

  /** The tick of a leader: heartbeats, and CheckQuorum every election timeout. */
  tickHeartbeat = (): void => {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(this.localMsg(MessageType.MsgCheckQuorum));
      // A leader transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.StateLeader && this.leadTransferee !== NONE) {
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.StateLeader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(this.localMsg(MessageType.MsgBeat));
    }
  };

  private localMsg(type: MessageType): Message {
    const m = msg(type, NONE);
    m.from = this.id;
    return m;
  }

  becomeFollower(term: number, lead: bigint): void {
    this.stepFn = this.stepFollower;
    this.reset(term);
    this.tick = this.tickElection;
    this.lead = lead;
    this.state = StateType.StateFollower;
    this.logger.info(`${this.id.toString(16)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.StateLeader)
      panic(this.logger, 'invalid transition [leader -> candidate]');
    this.stepFn = this.stepCandidate;
    this.reset(this.term + 1);
    this.tick = this.tickElection;
    this.vote = this.id;
    this.state = StateType.StateCandidate;
    this.logger.info(`${this.id.toString(16)} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === StateType.StateLeader) {
      panic(this.logger, 'invalid transition [leader -> pre-candidate]');
    }
    // A pre-candidate changes neither its term nor its vote: it only asks
    // whether it could win, so a member that cannot win disrupts nobody.
    this.stepFn = this.stepCandidate;
    this.prs.resetVotes();
    this.tick = this.tickElection;
    this.lead = NONE;
    this.state = StateType.StatePreCandidate;
    this.logger.info(`${this.id.toString(16)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.StateFollower)
      panic(this.logger, 'invalid transition [follower -> leader]');
    this.stepFn = this.stepLeader;
    this.reset(this.term);
    this.tick = this.tickHeartbeat;
    this.lead = this.id;
    this.state = StateType.StateLeader;
    // The leader's own Progress is always in Replicate state: it has its own log.
    this.prs.progress.get(this.id)!.becomeReplicate();
    // Conservatively treat every entry not known to be applied as a possible
    // pending configuration change: no new change is accepted before the
    // leader has applied its whole log.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry of the new term: committing it commits everything before
    // it (Raft §5.4.2) and tells the leader its commit index.
    const empty: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES };
    if (!this.appendEntry([empty])) panic(this.logger, 'empty entry was dropped');
    // The empty entry does not count against the uncommitted size (it has no payload).
    this.logger.info(`${this.id.toString(16)} became leader at term ${this.term}`);
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.StateLeader) {
      this.logger.debug(`${this.id.toString(16)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id.toString(16)} is unpromotable and can not campaign`);
      return;
    }
    // A member that has committed but not applied a configuration change
    // must not campaign: it might not be a voter once the change is applied.
    let ents: Entry[];
    try {
      ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, NO_LIMIT);
    } catch (err) {
      panic(this.logger, `unexpected error getting unapplied entries (${String(err)})`);
    }
    const n = numOfPendingConf(ents);
    if (n !== 0 && this.raftLog.committed > this.raftLog.applied) {
      this.logger.warn(
        `${this.id.toString(16)} cannot campaign at term ${this.term} since there are still ${n} pending configuration changes to apply`,
      );
      return;
    }
    this.logger.info(`${this.id.toString(16)} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warn(
        `${this.id.toString(16)} is unpromotable; campaign() should have been called`,
      );
    }
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-votes are requested for the term we would campaign in.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true).result === VoteResult.VoteWon) {
      // A single-voter group wins at once.
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.prs.voterNodes()) {
      if (id === this.id) continue;
      this.logger.info(
        `${this.id.toString(16)} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${messageTypeName(voteMsg)} request to ${id.toString(16)} at term ${this.term}`,
      );
      const m = msg(voteMsg, id);
      m.term = term;
      m.index = lastIndex;
      m.logTerm = lastTerm;
      // A transfer campaign may disrupt a live leader's lease: say so.
      if (t === CampaignType.Transfer) m.context = CAMPAIGN_TRANSFER;
      this.send(m);
    }
  }

  private poll(id: bigint, t: MessageType, v: boolean): ReturnType<ProgressTracker['tallyVotes']> {
    if (v) {
      this.logger.info(
        `${this.id.toString(16)} received ${messageTypeName(t)} from ${id.toString(16)} at term ${this.term}`,
      );
    } else {
      this.logger.info(
        `${this.id.toString(16)} received ${messageTypeName(t)} rejection from ${id.toString(16)} at term ${this.term}`,
      );
    }
    this.prs.recordVote(id, v);
    return this.prs.tallyVotes();
  }

  /**
   * Steps a message into the state machine. Throws ErrProposalDropped when a
   * proposal cannot be accepted; every other outcome is reported through the
   * next Ready.
   */
  step(m: Message): void {
    const id = this.id.toString(16);
    // Handle the message term first: it may change our role.
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = isCampaignTransfer(m.context);
        const inLease =
          this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a live leader within the minimum election timeout:
          // ignore the request instead of raising our term (CheckQuorum's lease).
          this.logger.info(
            `${id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote.toString(16)}] ignored ${messageTypeName(m.type)} from ${m.from.toString(16)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the term changes when we win.
      } else {
        this.logger.info(
          `${id} [term: ${this.term}] received a ${messageTypeName(m.type)} message with higher term from ${m.from.toString(16)} [term: ${m.term}]`,
        );
        if (
          m.type === MessageType.MsgApp ||
          m.type === MessageType.MsgHeartbeat ||
          m.type === MessageType.MsgSnap
        ) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, NONE);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // A leader cut off by a partition (and stuck in its old term, since
        // CheckQuorum/PreVote keep us from raising ours) learns of the newer
        // term from this response and steps down.
        this.send(msg(MessageType.MsgAppResp, m.from));
      } else if (m.type === MessageType.MsgPreVote) {
        // Rejecting lets a pre-candidate with a stale term learn the current one.
        this.logger.info(
          `${id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote.toString(16)}] rejected ${messageTypeName(m.type)} from ${m.from.toString(16)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
        );
        const resp = msg(MessageType.MsgPreVoteResp, m.from);
        resp.term = this.term;
        resp.reject = true;
        this.send(resp);
      } else {
        this.logger.info(
          `${id} [term: ${this.term}] ignored a ${messageTypeName(m.type)} message with lower term from ${m.from.toString(16)} [term: ${m.term}]`,
        );
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        break;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // We can vote if this is a repeat of a vote we cast, or we have not
        // voted and know no leader in this term, or this is a pre-vote for a
        // future term.
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        const lastTerm = this.raftLog.lastTerm();
        const lastIndex = this.raftLog.lastIndex();
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(
            `${id} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${this.vote.toString(16)}] cast ${messageTypeName(m.type)} for ${m.from.toString(16)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          // The response carries the term of the request (for a pre-vote, the future term).
          const resp = msg(voteRespMsgType(m.type), m.from);
          resp.term = m.term;
          this.send(resp);
          if (m.type === MessageType.MsgVote) {
            // Only a real vote is recorded and resets the election timer.
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `${id} [logterm: ${lastTerm}, index: ${lastIndex}, vote: ${this.vote.toString(16)}] rejected ${messageTypeName(m.type)} from ${m.from.toString(16)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`,
          );
          const resp = msg(voteRespMsgType(m.type), m.from);
          resp.term = this.term;
          resp.reject = true;
          this.send(resp);
        }
        break;
      }
      default:
        this.stepFn(m);
    }
  }

  private stepLeader = (m: Message): void => {
    const id = this.id.toString(16);
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum: {
        // The leader counts itself as active: it may not be in its own
        // Progress map if it was removed, which the quorum check handles.
        const self = this.prs.progress.get(this.id);
        if (self !== undefined) self.recentActive = true;
        if (!this.prs.quorumActive()) {
          this.logger.warn(`${id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, NONE);
        }
        // Everyone must prove themselves active again in the next round.
        for (const [pid, pr] of this.prs.progress) if (pid !== this.id) pr.recentActive = false;
        return;
      }
      case MessageType.MsgProp: {
        if (m.entries.length === 0) panic(this.logger, `${id} stepped empty MsgProp`);
        if (!this.prs.progress.has(this.id)) {
          // Removed from the configuration while leader: refuse, so that the
          // proposal is retried with the next leader.
          throw new ErrProposalDropped();
        }
        if (this.leadTransferee !== NONE) {
          this.logger.debug(
            `${id} [term ${this.term}] transfer leadership to ${this.leadTransferee.toString(16)} is in progress; dropping proposal`,
          );
          throw new ErrProposalDropped();
        }
        let entries = m.entries;
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          let cc: ConfChangeV2 | undefined;
          if (e.type === EntryType.EntryConfChange) cc = confChangeAsV2(decodeConfChange(e.data));
          else if (e.type === EntryType.EntryConfChangeV2) cc = decodeConfChangeV2(e.data);
          if (cc === undefined) continue;
          const alreadyPending = this.pendingConfIndex > this.raftLog.applied;
          const alreadyJoint = this.prs.config.voters[1].size > 0;
          const wantsLeaveJoint = cc.changes.length === 0;
          let refused = '';
          if (alreadyPending) {
            refused = `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`;
          } else if (alreadyJoint && !wantsLeaveJoint) {
            refused = 'must transition out of joint config first';
          } else if (!alreadyJoint && wantsLeaveJoint) {
            refused = 'not in joint state; refusing empty conf change';
          }
          if (refused !== '') {
            // Replace it with an empty normal entry, so that the proposal's
            // indexes stay as the proposer expects.
            this.logger.info(
              `${id} ignoring conf change at config ${trackerConfigString(this.prs.config)}: ${refused}`,
            );
            if (entries === m.entries) entries = entries.slice(); // never mutate the message
            entries[i] = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY_BYTES };
          } else {
            this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
          }
        }
        if (!this.appendEntry(entries, this.proposalOwned && entries === m.entries)) {
          throw new ErrProposalDropped();
        }
        this.bcastAppend();
        return;
      }
      case MessageType.MsgReadIndex: {
        // A single voter needs no confirmation of its leadership.
        if (this.prs.isSingleton()) {
          const resp = this.responseToReadIndexReq(m, this.raftLog.committed);
          if (resp !== undefined) this.send(resp);
          return;
        }
        // Until the leader commits an entry of its own term, it does not know
        // the true commit index (Raft thesis §6.4): postpone the read.
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendMsgReadIndexResponse(m);
        return;
      }
    }

    // The remaining messages are responses from a peer.
    const pr = this.prs.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug(`${id} no progress available for ${m.from.toString(16)}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        pr.recentActive = true;
        if (m.reject) this.handleAppendRejection(m, pr);
        else this.handleAppendAck(m, pr);
        break;
      case MessageType.MsgHeartbeatResp: {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        // If the window is full the follower may have lost the messages in
        // it; let one more through so that the stream can resume.
        if (pr.state === ProgressState.StateReplicate && pr.inflights.full())
          pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
        if (this.readOnly.option !== ReadOnlyOption.ReadOnlySafe || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === undefined) return;
        if (jointVoteResult(this.prs.config.voters, ackVotes(acks)) !== VoteResult.VoteWon) return;
        for (const rs of this.readOnly.advance(m.context)) {
          const resp = this.responseToReadIndexReq(rs.req, rs.index);
          if (resp !== undefined) this.send(resp);
        }
        break;
      }
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressState.StateSnapshot) return;
        if (!m.reject) {
          pr.becomeProbe();
          this.logger.debug(
            `${id} snapshot succeeded, resumed sending replication messages to ${m.from.toString(16)} [${pr}]`,
          );
        } else {
          // The snapshot did not arrive: forget it, so that probing starts at match+1.
          pr.pendingSnapshot = 0;
          pr.becomeProbe();
          this.logger.debug(
            `${id} snapshot failed, resumed sending replication messages to ${m.from.toString(16)} [${pr}]`,
          );
        }
        // Wait for the follower's response (or a heartbeat response) before
        // probing, so that the snapshot has a chance to be applied first.
        pr.msgAppFlowPaused = true;
        break;
      case MessageType.MsgUnreachable:
        // Optimistic streaming to an unreachable follower loses messages: probe instead.
        if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
        this.logger.debug(
          `${id} failed to send message to ${m.from.toString(16)} because it is unreachable [${pr}]`,
        );
        break;
      case MessageType.MsgTransferLeader: {
        if (pr.isLearner) {
          this.logger.debug(`${id} is learner. Ignored transferring leadership`);
          return;
        }
        const transferee = m.from;
        const last = this.leadTransferee;
        if (last !== NONE) {
          if (last === transferee) {
            this.logger.info(
              `${id} [term ${this.term}] transfer leadership to ${transferee.toString(16)} is in progress, ignores request to same node ${transferee.toString(16)}`,
            );
            return;
          }
          this.abortLeaderTransfer();
          this.logger.info(
            `${id} [term ${this.term}] abort previous transferring leadership to ${last.toString(16)}`,
          );
        }
        if (transferee === this.id) {
          this.logger.debug(`${id} is already leader. Ignored transferring leadership to self`);
          return;
        }
        this.logger.info(
          `${id} [term ${this.term}] starts to transfer leadership to ${transferee.toString(16)}`,
        );
        // The transfer must finish within one election timeout.
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) {
          this.sendTimeoutNow(transferee);
          this.logger.info(
            `${id} sends MsgTimeoutNow to ${transferee.toString(16)} immediately as ${transferee.toString(16)} already has up-to-date log`,
          );
        } else {
          this.sendAppend(transferee);
        }
        break;
      }
    }
  };

  private handleAppendRejection(m: Message, pr: Progress): void {
    this.logger.debug(
      `${this.id.toString(16)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from.toString(16)} for index ${m.index}`,
    );
    // The follower told us (rejectHint, logTerm): the last index it has at or
    // below the rejected one, and that entry's term. Any of our entries with a
    // term above logTerm cannot match, so skip to the last index whose term is
    // at most logTerm: one round trip per term instead of per entry.
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      this.logger.debug(
        `${this.id.toString(16)} decreased progress of ${m.from.toString(16)} to [${pr}]`,
      );
      if (pr.state === ProgressState.StateReplicate) pr.becomeProbe();
      this.sendAppend(m.from);
    }
  }

  private handleAppendAck(m: Message, pr: Progress): void {
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.StateProbe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.StateSnapshot && pr.match >= pr.pendingSnapshot) {
      // The follower caught up past the snapshot (through entries, or the snapshot itself).
      this.logger.debug(
        `${this.id.toString(16)} recovered from needing snapshot, resumed sending replication messages to ${m.from.toString(16)} [${pr}]`,
      );
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.StateReplicate) {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      // Reads waiting for the first commit of this term can go now.
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (oldPaused) {
      // The follower was throttled and is not any more: resume.
      this.sendAppend(m.from);
    }
    // Send as much as the flow control allows (pipelining in Replicate state).
    for (let i = 0; i < this.prs.maxInflight + 1 && this.maybeSendAppend(m.from, false); i++) {
      // bounded: at most one message per inflights slot
    }
    // A transfer target that has caught up can take over now.
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(
        `${this.id.toString(16)} sent MsgTimeoutNow to ${m.from.toString(16)} after received MsgAppResp`,
      );
      this.sendTimeoutNow(m.from);
    }
  }

  private stepCandidate = (m: Message): void => {
    // Both candidates and pre-candidates use this; they count only the
    // responses to their own kind of request.
    const myVoteRespType =
      this.state === StateType.StatePreCandidate
        ? MessageType.MsgPreVoteResp
        : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.logger.info(
          `${this.id.toString(16)} no leader at term ${this.term}; dropping proposal`,
        );
        throw new ErrProposalDropped();
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from); // m.term === this.term here
        this.handleAppendEntries(m);
        break;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        break;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        break;
      case myVoteRespType: {
        const { granted, rejected, result } = this.poll(m.from, m.type, !m.reject);
        this.logger.info(
          `${this.id.toString(16)} has received ${granted} ${messageTypeName(m.type)} votes and ${rejected} vote rejections`,
        );
        if (result === VoteResult.VoteWon) {
          if (this.state === StateType.StatePreCandidate) {
            this.campaign(CampaignType.Election);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.VoteLost) {
          // A pre-candidate's or candidate's MsgVoteResp rejection for this
          // term: go back to following, at the current term.
          this.becomeFollower(this.term, NONE);
        }
        break;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(
          `${this.id.toString(16)} [term ${this.term} state ${stateTypeName(this.state)}] ignored MsgTimeoutNow from ${m.from.toString(16)}`,
        );
        break;
    }
  };

  private stepFollower = (m: Message): void => {
    const id = this.id.toString(16);
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) {
          this.logger.info(`${id} no leader at term ${this.term}; dropping proposal`);
          throw new ErrProposalDropped();
        }
        if (this.disableProposalForwarding) {
          this.logger.info(
            `${id} not forwarding to leader ${this.lead.toString(16)} at term ${this.term}; dropping proposal`,
          );
          throw new ErrProposalDropped();
        }
        this.send({ ...m, to: this.lead });
        break;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        break;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        break;
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) {
          this.logger.info(`${id} no leader at term ${this.term}; dropping leader transfer msg`);
          return;
        }
        this.send({ ...m, to: this.lead });
        break;
      case MessageType.MsgTimeoutNow:
        this.logger.info(
          `${id} [term ${this.term}] received MsgTimeoutNow from ${m.from.toString(16)} and starts an election to get leadership.`,
        );
        // Leadership transfers never use pre-vote: the leader asked for this.
        this.hup(CampaignType.Transfer);
        break;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`${id} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        this.send({ ...m, to: this.lead });
        break;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) {
          this.logger.error(
            `${id} invalid format of MsgReadIndexResp from ${m.from.toString(16)}, entries count: ${m.entries.length}`,
          );
          return;
        }
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        break;
    }
  };

  handleAppendEntries(m: Message): void {
    // Entries at or below our commit index are already known to match.
    if (m.index < this.raftLog.committed) {
      const resp = msg(MessageType.MsgAppResp, m.from);
      resp.index = this.raftLog.committed;
      this.send(resp);
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      const resp = msg(MessageType.MsgAppResp, m.from);
      resp.index = lastNew;
      this.send(resp);
      return;
    }
    this.logger.debug(
      `${this.id.toString(16)} [logterm: ${this.raftLog.zeroTermOnOutOfBounds(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from.toString(16)}`,
    );
    // Hint the leader at the largest index that might match: at most our
    // last index, and no entry whose term exceeds the leader's term at
    // m.index (those certainly differ from the leader's).
    let hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    hintIndex = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    let hintTerm: number;
    try {
      hintTerm = this.raftLog.term(hintIndex);
    } catch (err) {
      panic(this.logger, `term(${hintIndex}) must be valid, but got ${String(err)}`);
    }
    const resp = msg(MessageType.MsgAppResp, m.from);
    resp.index = m.index;
    resp.reject = true;
    resp.rejectHint = hintIndex;
    resp.logTerm = hintTerm;
    this.send(resp);
  }

  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = msg(MessageType.MsgHeartbeatResp, m.from);
    resp.context = m.context;
    this.send(resp);
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === undefined) {
      this.logger.warn(
        `${this.id.toString(16)} received MsgSnap without a snapshot from ${m.from.toString(16)}`,
      );
      return;
    }
    const resp = msg(MessageType.MsgAppResp, m.from);
    if (this.restore(s)) {
      this.logger.info(
        `${this.id.toString(16)} [commit: ${this.raftLog.committed}] restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      resp.index = this.raftLog.lastIndex();
    } else {
      this.logger.info(
        `${this.id.toString(16)} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      resp.index = this.raftLog.committed;
    }
    this.send(resp);
  }

  /**
   * Installs a snapshot as the log's new base and its configuration as the
   * current one. Returns false if the snapshot is not newer than what we
   * have committed (or matches our log, in which case we only fast-forward
   * the commit index).
   */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.StateFollower) {
      // A leader or candidate never receives a snapshot of its own term; be
      // defensive and step down to a higher term rather than corrupt state.
      this.logger.warn(
        `${this.id.toString(16)} attempted to restore snapshot as leader; should never happen`,
      );
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    const found =
      cs.voters.includes(this.id) ||
      cs.learners.includes(this.id) ||
      cs.votersOutgoing.includes(this.id);
    if (!found) {
      this.logger.warn(
        `${this.id.toString(16)} attempted to restore snapshot but it is not in the ConfState; should never happen`,
      );
      return false;
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.logger.info(
        `${this.id.toString(16)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
      );
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new ProgressTracker(this.prs.maxInflight, this.prs.maxInflightBytes);
    let r: ChangeResult;
    try {
      r = restoreConfState(new Changer(this.prs, this.raftLog.lastIndex()), cs);
    } catch (err) {
      panic(this.logger, `unable to restore config: ${String(err)}`);
    }
    assertConfStatesEquivalent(this.logger, cs, this.switchToConfig(r));
    const pr = this.prs.progress.get(this.id)!;
    pr.maybeUpdate(pr.next - 1);
    this.logger.info(
      `${this.id.toString(16)} [commit: ${this.raftLog.committed}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}] restored snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    return true;
  }

  /** Whether this member may become leader: a voter with no snapshot pending. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.prs, this.raftLog.lastIndex());
    let r: ChangeResult;
    try {
      if (confChangeLeaveJoint(cc)) {
        r = changer.leaveJoint();
      } else {
        const { autoLeave, ok } = confChangeEnterJoint(cc);
        r = ok ? changer.enterJoint(autoLeave, cc.changes) : changer.simple(cc.changes);
      }
    } catch (err) {
      // Changes are validated when proposed, so a failure here means the
      // log holds a change that every member would refuse: a bug.
      panic(this.logger, String(err instanceof Error ? err.message : err));
    }
    return this.switchToConfig(r);
  }

  /**
   * Installs a new configuration. A leader that is still a voter then
   * commits what the new quorum allows and brings new members up to date.
   */
  switchToConfig(r: ChangeResult): ConfState {
    this.prs.config = r.config;
    this.prs.progress = r.progress;
    this.logger.info(
      `${this.id.toString(16)} switched to configuration ${trackerConfigString(this.prs.config)}`,
    );
    const cs = this.prs.confState();
    const pr = this.prs.progress.get(this.id);
    this.isLearner = pr?.isLearner === true;
    if ((pr === undefined || this.isLearner) && this.state === StateType.StateLeader) {
      // This leader was removed or demoted by a change that is now applied
      // (hence committed). It must not go on leading a group it is no longer
      // a voter of: step down, and let the remaining voters elect a leader
      // (the new leader has the change, as it is committed).
      this.logger.info(
        `${this.id.toString(16)} stepping down: no longer a voter in ${trackerConfigString(this.prs.config)}`,
      );
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.StateLeader || cs.voters.length === 0) return cs;
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      // Probe the new members (and anyone else) without waiting for a heartbeat.
      this.prs.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    // A transfer to a member that is no longer a voter is abandoned.
    if (
      this.leadTransferee !== NONE &&
      !this.prs.config.voters[0].has(this.leadTransferee) &&
      !this.prs.config.voters[1].has(this.leadTransferee)
    ) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      panic(
        this.logger,
        `${this.id.toString(16)} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
      );
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand(this.electionTimeout);
  }

  sendTimeoutNow(to: bigint): void {
    this.send(msg(MessageType.MsgTimeoutNow, to));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  /**
   * Answers a read request at readIndex: locally (a ReadState) if it is our
   * own, or with a MsgReadIndexResp to the follower that forwarded it.
   */
  private responseToReadIndexReq(req: Message, readIndex: number): Message | undefined {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]!.data });
      return undefined;
    }
    const m = msg(MessageType.MsgReadIndexResp, req.from);
    m.index = readIndex;
    m.entries = req.entries;
    return m;
  }

  private sendMsgReadIndexResponse(m: Message): void {
    if (this.readOnly.option === ReadOnlyOption.ReadOnlySafe) {
      const ctx = m.entries[0]!.data;
      this.readOnly.addRequest(this.raftLog.committed, m);
      // The leader acknowledges its own heartbeat.
      this.readOnly.recvAck(this.id, ctx);
      this.bcastHeartbeatWithCtx(ctx);
    } else {
      const resp = this.responseToReadIndexReq(m, this.raftLog.committed);
      if (resp !== undefined) this.send(resp);
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) {
      this.logger.error(
        'pending MsgReadIndex should be released only after first commit in current term',
      );
      return;
    }
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendMsgReadIndexResponse(m);
  }

  private increaseUncommittedSize(ents: Entry[]): boolean {
    const s = payloadsSize(ents);
    // The first proposal is always accepted, however large, so that a single
    // oversized proposal cannot block the leader forever.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize)
      return false;
    this.uncommittedSize += s;
    return true;
  }

  private reduceUncommittedSize(ents: Entry[]): void {
    if (this.uncommittedSize === 0) return;
    const s = payloadsSize(ents);
    // The estimate may undercount (entries from a previous term); never go below zero.
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }
}

function ackVotes(acks: Set<bigint>): Map<bigint, boolean> {
  const m = new Map<bigint, boolean>();
  for (const id of acks) m.set(id, true);
  return m;
}

function numOfPendingConf(ents: Entry[]): number {
  let n = 0;
  for (const e of ents) {
    if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) n++;
  }
  return n;
}

/** The index the application will have applied once it handled a Ready like rd. */
export function appliedCursor(rd: {
  committedEntries: Entry[];
  snapshot: Snapshot | undefined;
}): number {
  const n = rd.committedEntries.length;
  if (n > 0) return rd.committedEntries[n - 1]!.index;
  if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0)
    return rd.snapshot.metadata.index;
  return 0;
}

function assertConfStatesEquivalent(logger: Logger, a: ConfState, b: ConfState): void {
  if (!confStateEquivalent(a, b)) {
    panic(
      logger,
      `ConfStates not equivalent after sorting: ${JSON.stringify(a, bigintReplacer)} vs ${JSON.stringify(b, bigintReplacer)}`,
    );
  }
}

function bigintReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

export { CampaignType };

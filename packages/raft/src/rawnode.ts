// RawNode is the synchronous API of a raft member. The application owns the
// loop:
//
//   on each tick:           rn.tick()
//   on each peer message:   rn.step(m)
//   to propose:             rn.propose(data)        (throws ErrProposalDropped)
//   then, while rn.hasReady():
//     const rd = rn.ready();
//     persist rd.hardState, rd.entries, rd.snapshot  (fsync if rd.mustSync)
//     send rd.messages                               (a leader may send before persisting)
//     apply rd.snapshot, then rd.committedEntries    (applyConfChange for conf changes)
//     rn.advance(rd);

import { encodeConfChange, encodeConfChangeV2 } from './codec.js';
import { ErrStepLocalMsg, ErrStepPeerNotFound, RaftError } from './errors.js';
import { type Config, NONE, Raft, type SoftState, StateType, stateTypeName } from './raft.js';
import {
  type ConfChange,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  confChangeAsV2,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  type HardState,
  hardStateEqual,
  isEmptyHardState,
  type Message,
  MessageType,
  type Snapshot,
} from './raftpb.js';
import type { ReadState } from './read_only.js';
import { type Progress, progressStateName } from './tracker/progress.js';
import { isLocalMsg, isResponseMsg } from './util.js';

/** Everything the application must do after the state machine changed. */
export interface Ready {
  /** The new leader and role, if either changed since the last Ready. */
  softState: SoftState | undefined;
  /** The HardState to persist before sending messages, if it changed (else undefined). */
  hardState: HardState | undefined;
  /** Linearizable reads that are ready once the application has applied up to their index. */
  readStates: ReadState[];
  /** Entries to persist (append, replacing any conflicting suffix) before sending messages. */
  entries: Entry[];
  /** A snapshot to persist and apply, if one arrived. */
  snapshot: Snapshot | undefined;
  /** Committed entries to apply to the state machine, in order. */
  committedEntries: Entry[];
  /** Messages to send once entries and hard state are persisted (a leader may send first). */
  messages: Message[];
  /** Whether the hard state and entries must be fsynced before the messages go out. */
  mustSync: boolean;
}

export const SnapshotStatus = { SnapshotFinish: 1, SnapshotFailure: 2 } as const;
export type SnapshotStatus = (typeof SnapshotStatus)[keyof typeof SnapshotStatus];

export interface Peer {
  id: bigint;
  context?: Uint8Array;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: string;
  isLearner: boolean;
  recentActive: boolean;
  pendingSnapshot: number;
  inflight: number;
  paused: boolean;
}

export interface Status {
  id: bigint;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  /** Per-member replication progress; only on the leader. */
  progress: Map<bigint, ProgressStatus>;
  leadTransferee: bigint;
  config: ConfState;
}

function progressStatus(pr: Progress): ProgressStatus {
  return {
    match: pr.match,
    next: pr.next,
    state: progressStateName(pr.state),
    isLearner: pr.isLearner,
    recentActive: pr.recentActive,
    pendingSnapshot: pr.pendingSnapshot,
    inflight: pr.inflights.count(),
    paused: pr.isPaused(),
  };
}

/** Whether the Ready's hard state and entries must reach stable storage before its messages go out. */
export function mustSync(st: HardState, prev: HardState, entries: number): boolean {
  return entries !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}

function msgFor(type: MessageType): Message {
  return {
    type,
    to: NONE,
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

export class RawNode {
  readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Advances the election timer only: for a group that stopped ticking its
   * leader to save heartbeats, without making the members campaign.
   */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /** Starts an election now (a pre-election first if PreVote is on). */
  campaign(): void {
    this.raft.step(msgFor(MessageType.MsgHup));
  }

  /** Proposes data to be appended to the log. Throws ErrProposalDropped if it cannot be. */
  propose(data: Uint8Array): void {
    const m = msgFor(MessageType.MsgProp);
    m.from = this.raft.id;
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data }];
    this.stepOwned(m);
  }

  private stepOwned(m: Message): void {
    this.raft.proposalOwned = true;
    try {
      this.raft.step(m);
    } finally {
      this.raft.proposalOwned = false;
    }
  }

  /** Proposes several entries in one message (what a batching server does). */
  proposeBatch(datas: Uint8Array[]): void {
    const m = msgFor(MessageType.MsgProp);
    m.from = this.raft.id;
    const entries: Entry[] = [];
    for (let i = 0; i < datas.length; i++) {
      entries.push({ term: 0, index: 0, type: EntryType.EntryNormal, data: datas[i]! });
    }
    m.entries = entries;
    this.stepOwned(m);
  }

  /** Proposes a configuration change (ConfChange or ConfChangeV2). */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const m = msgFor(MessageType.MsgProp);
    m.entries = [confChangeEntry(cc)];
    this.raft.step(m);
  }

  /**
   * Applies a committed configuration change to the tracker and returns the
   * new ConfState (to persist with the next snapshot). Call it when the
   * change's entry is applied.
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange('changes' in cc ? cc : confChangeAsV2(cc));
  }

  /** Steps a message from a peer. */
  step(m: Message): void {
    // Local messages are raft's own business (campaign(), tick()...).
    if (isLocalMsg(m.type)) throw new ErrStepLocalMsg();
    // Responses from members that are not in the configuration are dropped.
    if (this.raft.prs.progress.has(m.from) || !isResponseMsg(m.type)) {
      this.raft.step(m);
      return;
    }
    throw new ErrStepPeerNotFound();
  }

  /** The current Ready; the caller must handle it and call advance(rd). */
  ready(): Ready {
    const r = this.raft;
    const hs = r.hardState();
    const softSt = r.softState();
    const entries = r.raftLog.unstableEntries();
    const rd: Ready = {
      softState: undefined,
      hardState: undefined,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.unstable.snapshot,
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      mustSync: mustSync(hs, this.prevHardSt, entries.length),
    };
    if (softSt.lead !== this.prevSoftSt.lead || softSt.raftState !== this.prevSoftSt.raftState) {
      rd.softState = softSt;
      this.prevSoftSt = softSt;
    }
    if (!hardStateEqual(hs, this.prevHardSt)) rd.hardState = hs;
    // The Ready owns these now.
    if (r.readStates.length !== 0) r.readStates = [];
    r.msgs = [];
    return rd;
  }

  /** Whether there is anything for a Ready. */
  hasReady(): boolean {
    const r = this.raft;
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardSt)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextEnts())
      return true;
    return r.readStates.length !== 0;
  }

  /** Tells raft the Ready was handled: its entries persisted, its committed entries applied. */
  advance(rd: Ready): void {
    if (rd.hardState !== undefined && !isEmptyHardState(rd.hardState))
      this.prevHardSt = rd.hardState;
    this.raft.advance(rd);
  }

  /**
   * Requests a linearizable read. When it is safe to serve, a ReadState with
   * this context and the index to wait for appears in a Ready.
   */
  readIndex(rctx: Uint8Array): void {
    const m = msgFor(MessageType.MsgReadIndex);
    m.entries = [{ term: 0, index: 0, type: EntryType.EntryNormal, data: rctx }];
    this.raft.step(m);
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeader(transferee: bigint): void {
    const m = msgFor(MessageType.MsgTransferLeader);
    m.from = transferee;
    this.raft.step(m);
  }

  /** The transport failed to reach `id`: stop streaming to it optimistically. */
  reportUnreachable(id: bigint): void {
    const m = msgFor(MessageType.MsgUnreachable);
    m.from = id;
    this.raft.step(m);
  }

  /** The transport finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: bigint, status: SnapshotStatus): void {
    const m = msgFor(MessageType.MsgSnapStatus);
    m.from = id;
    m.reject = status === SnapshotStatus.SnapshotFailure;
    this.raft.step(m);
  }

  /**
   * Initializes an empty storage with a configuration of `peers` (as
   * committed ConfChange entries at term 1). The entries appear in the next
   * Ready to be persisted and applied like any other.
   */
  bootstrap(peers: Peer[]): void {
    if (peers.length === 0) throw new RaftError('must provide at least one peer to Bootstrap');
    if (this.raft.raftLog.storage.lastIndex() !== 0)
      throw new RaftError("can't bootstrap a nonempty Storage");
    // Make the first Ready carry the HardState produced here.
    this.prevHardSt = { term: 0, vote: NONE, commit: 0 };
    this.raft.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((p, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: p.id,
        context: p.context ?? EMPTY_BYTES,
        id: 0n,
      }),
    }));
    this.raft.raftLog.append(ents);
    // The entries are committed (they are the group's starting point), and
    // applied to the tracker here; the application still applies them when
    // they come out of Ready (applyConfChange is idempotent for AddNode).
    this.raft.raftLog.committed = ents.length;
    for (const p of peers) {
      this.raft.applyConfChange(
        confChangeAsV2({
          type: ConfChangeType.ConfChangeAddNode,
          nodeId: p.id,
          context: EMPTY_BYTES,
          id: 0n,
        }),
      );
    }
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<bigint, ProgressStatus>();
    if (r.state === StateType.StateLeader) {
      r.prs.visit((id, pr) => progress.set(id, progressStatus(pr)));
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      progress,
      leadTransferee: r.leadTransferee,
      config: r.prs.confState(),
    };
  }
}

/** Encodes a configuration change as the log entry that carries it. */
export function confChangeEntry(cc: ConfChange | ConfChangeV2): Entry {
  if ('changes' in cc) {
    return { term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) };
  }
  return { term: 0, index: 0, type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
}

export function statusString(s: Status): string {
  return `{"id":"${s.id.toString(16)}","term":${s.hardState.term},"vote":"${s.hardState.vote.toString(16)}","commit":${s.hardState.commit},"lead":"${s.softState.lead.toString(16)}","raftState":"${stateTypeName(s.softState.raftState)}","applied":${s.applied}}`;
}

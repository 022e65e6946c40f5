// Progress is the leader's view of one follower: how much of the log it is
// known to have (match), what to send next (next), and which of three flow
// control states governs sending:
//
//   Probe:     the follower's log position is unknown; send one MsgApp per
//              heartbeat interval and wait for its answer.
//   Replicate: the follower accepts what it is sent; stream MsgApps
//              optimistically (pipelining), bounded by the inflights window.
//   Snapshot:  the follower needs a snapshot; send nothing until it reports.

import type { Inflights } from './inflights.js';

export const ProgressState = {
  StateProbe: 0,
  StateReplicate: 1,
  StateSnapshot: 2,
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

const stateNames = ['StateProbe', 'StateReplicate', 'StateSnapshot'];
export function progressStateName(s: ProgressState): string {
  return stateNames[s]!;
}

export class Progress {
  match = 0;
  next = 0;
  state: ProgressState = ProgressState.StateProbe;
  /** In Snapshot state, the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Whether the follower was heard from since the last CheckQuorum round. */
  recentActive = false;
  /**
   * In Probe state, whether a probe was sent and is unanswered (no more are
   * sent until a heartbeat response or an acknowledgement arrives). In
   * Replicate state the inflights window does the throttling.
   */
  msgAppFlowPaused = false;
  isLearner = false;

  constructor(
    public inflights: Inflights,
    init: { match?: number; next?: number; isLearner?: boolean; recentActive?: boolean } = {},
  ) {
    this.match = init.match ?? 0;
    this.next = init.next ?? 0;
    this.isLearner = init.isLearner ?? false;
    this.recentActive = init.recentActive ?? false;
  }

  clone(): Progress {
    const p = new Progress(this.inflights.clone());
    p.match = this.match;
    p.next = this.next;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.recentActive = this.recentActive;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    p.isLearner = this.isLearner;
    return p;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /**
   * Enters Probe state. Coming out of Snapshot state, the follower is assumed
   * to have applied the pending snapshot, so probing starts after it.
   */
  becomeProbe(): void {
    if (this.state === ProgressState.StateSnapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.StateProbe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.StateProbe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.StateReplicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.StateSnapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /**
   * Accounts for a MsgApp of `entries` entries carrying `bytes` of payload,
   * sent starting at `next`. In Replicate state next advances optimistically
   * and the message takes a slot of the inflights window; in Probe state
   * further probes pause until this one is answered.
   */
  sentEntries(entries: number, bytes: number): void {
    if (this.state === ProgressState.StateReplicate) {
      if (entries > 0) {
        const last = this.next + entries - 1;
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
    } else if (this.state === ProgressState.StateProbe) {
      this.msgAppFlowPaused = true;
    } else {
      throw new Error(`sending append in unhandled state ${progressStateName(this.state)}`);
    }
  }

  /**
   * Handles an acknowledgement of index n. Returns false if it is stale (the
   * follower was known to have n already).
   */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * Handles a rejection of a MsgApp whose previous entry was `rejected`, with
   * the follower's hint of the last index that may match. Returns false if
   * the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.StateReplicate) {
      // A rejection at or below match is from an old message: ignore it.
      if (rejected <= this.match) return false;
      // Otherwise the optimistic stream went wrong; restart from match + 1.
      this.next = this.match + 1;
      return true;
    }
    // In Probe state only the answer to the last probe (sent at next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether sending entries to this follower is throttled now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.StateProbe:
        return this.msgAppFlowPaused;
      case ProgressState.StateReplicate:
        return this.inflights.full();
      default:
        return true;
    }
  }

  toString(): string {
    let s = `${progressStateName(this.state)} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) {
      s += ` inflight=${n}`;
      if (this.inflights.full()) s += '[full]';
    }
    return s;
  }
}

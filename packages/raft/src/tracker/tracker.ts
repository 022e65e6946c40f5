// The ProgressTracker holds the active configuration (voters, learners) and
// the leader's Progress for every member of it, and answers the quorum
// questions raft asks: what is committed, who is recently active, and how an
// election is going.

import {
  type JointConfig,
  jointCommittedIndex,
  jointIds,
  jointString,
  jointVoteResult,
} from '../quorum/joint.js';
import { majoritySlice } from '../quorum/majority.js';
import type { VoteResult } from '../quorum/quorum.js';
import { type ConfState, cmpBigint } from '../raftpb.js';
import { Inflights } from './inflights.js';
import type { Progress } from './progress.js';

export interface TrackerConfig {
  voters: JointConfig;
  /**
   * Set when the configuration is joint and the application should propose
   * leaving it as soon as it is committed (ConfChangeTransitionAuto /
   * JointImplicit).
   */
  autoLeave: boolean;
  /** Learners of the incoming configuration; never overlaps the voters. */
  learners: Set<bigint>;
  /**
   * Voters of the outgoing configuration that become learners when the joint
   * configuration is left (a voter demoted to learner while joint).
   */
  learnersNext: Set<bigint>;
}

export function newTrackerConfig(): TrackerConfig {
  return {
    voters: [new Set(), new Set()],
    autoLeave: false,
    learners: new Set(),
    learnersNext: new Set(),
  };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [new Set(c.voters[0]), new Set(c.voters[1])],
    autoLeave: c.autoLeave,
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
  };
}

export function trackerConfigString(c: TrackerConfig): string {
  let s = `voters=${jointString(c.voters)}`;
  if (c.learners.size > 0) s += ` learners=(${majoritySlice(c.learners).join(' ')})`;
  if (c.learnersNext.size > 0) s += ` learners_next=(${majoritySlice(c.learnersNext).join(' ')})`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}

export type ProgressMap = Map<bigint, Progress>;

export class ProgressTracker {
  config: TrackerConfig = newTrackerConfig();
  progress: ProgressMap = new Map();
  votes: Map<bigint, boolean> = new Map();
  // Reused by committed(): avoids a closure allocation per acknowledgement.
  private readonly ackedIndex = (id: bigint): number | undefined => this.progress.get(id)?.match;

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes = 0,
  ) {}

  newInflights(): Inflights {
    return new Inflights(this.maxInflight, this.maxInflightBytes);
  }

  /** The configuration as a ConfState, ids sorted. */
  confState(): ConfState {
    return {
      voters: majoritySlice(this.config.voters[0]),
      votersOutgoing: majoritySlice(this.config.voters[1]),
      learners: majoritySlice(this.config.learners),
      learnersNext: majoritySlice(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** Whether there is exactly one voter (and no joint configuration). */
  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  /** The largest log index known to be replicated on a quorum of voters. */
  committed(): number {
    return jointCommittedIndex(this.config.voters, this.ackedIndex);
  }

  /** Calls f for every member in increasing id order (so that output is deterministic). */
  visit(f: (id: bigint, pr: Progress) => void): void {
    const n = this.progress.size;
    if (n <= 7) {
      // Small clusters: a sorted copy of the (few) keys without a comparator closure.
      const ids: bigint[] = [];
      for (const id of this.progress.keys()) {
        let j = ids.length;
        ids.push(id);
        while (j > 0 && ids[j - 1]! > id) {
          ids[j] = ids[j - 1]!;
          j--;
        }
        ids[j] = id;
      }
      for (const id of ids) f(id, this.progress.get(id)!);
      return;
    }
    for (const id of [...this.progress.keys()].sort(cmpBigint)) f(id, this.progress.get(id)!);
  }

  /** Whether a quorum of voters was recently active (learners do not count). */
  quorumActive(): boolean {
    const votes = new Map<bigint, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, pr.recentActive);
    }
    return jointVoteResult(this.config.voters, votes) === 3; // VoteWon
  }

  voterNodes(): bigint[] {
    return majoritySlice(jointIds(this.config.voters));
  }

  learnerNodes(): bigint[] {
    return majoritySlice(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote; only the first vote of each node counts. */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}

import {
  type MajorityConfig,
  majorityCommittedIndex,
  majorityString,
  majorityVoteResult,
} from './majority.js';
import { type AckedIndexer, VoteResult } from './quorum.js';

/**
 * A joint configuration: [incoming, outgoing]. Outside of a joint consensus
 * transition the outgoing half is empty and the config is its incoming half.
 */
export type JointConfig = [MajorityConfig, MajorityConfig];

export function jointIds(c: JointConfig): Set<bigint> {
  const s = new Set<bigint>(c[0]);
  for (const id of c[1]) s.add(id);
  return s;
}

/** The highest index committed by both halves. */
export function jointCommittedIndex(c: JointConfig, l: AckedIndexer): number {
  const a = majorityCommittedIndex(c[0], l);
  if (c[1].size === 0) return a;
  const b = majorityCommittedIndex(c[1], l);
  return Math.min(a, b);
}

/** Won when both halves win, lost when either loses, pending otherwise. */
export function jointVoteResult(c: JointConfig, votes: Map<bigint, boolean>): VoteResult {
  const r1 = majorityVoteResult(c[0], votes);
  const r2 = majorityVoteResult(c[1], votes);
  if (r1 === r2) return r1;
  if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
  return VoteResult.VotePending;
}

export function jointString(c: JointConfig): string {
  if (c[1].size > 0) return `${majorityString(c[0])}&&${majorityString(c[1])}`;
  return majorityString(c[0]);
}

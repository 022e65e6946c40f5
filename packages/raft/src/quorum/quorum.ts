// Quorum arithmetic: which index a configuration has committed and whether an
// election is won, for a single majority and for a joint configuration (the
// majority of the incoming AND the majority of the outgoing voters).

/** The commit index of an empty configuration: it places no constraint. */
export const INDEX_MAX = Number.MAX_SAFE_INTEGER;

/** The index a voter has acknowledged, or undefined if unknown. */
export type AckedIndexer = (id: bigint) => number | undefined;

export const VoteResult = {
  /** Neither won nor lost yet: some votes are still missing. */
  VotePending: 1,
  VoteLost: 2,
  VoteWon: 3,
} as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

export function voteResultName(r: VoteResult): string {
  return r === VoteResult.VotePending
    ? 'VotePending'
    : r === VoteResult.VoteLost
      ? 'VoteLost'
      : 'VoteWon';
}

import { type AckedIndexer, INDEX_MAX, VoteResult } from './quorum.js';

/** A set of voters that decides by simple majority. */
export type MajorityConfig = Set<bigint>;

/**
 * The highest index acknowledged by a majority of the voters. A voter whose
 * index is unknown counts as having acknowledged 0.
 */
export function majorityCommittedIndex(c: MajorityConfig, l: AckedIndexer): number {
  const n = c.size;
  if (n === 0) return INDEX_MAX;
  if (n === 1) {
    for (const id of c) return l(id) ?? 0;
  }
  // Insertion sort into a small array: configurations are small and this runs
  // on every acknowledgement the leader receives.
  const srt: number[] = new Array(n);
  let k = 0;
  for (const id of c) {
    const v = l(id) ?? 0;
    let j = k++;
    while (j > 0 && srt[j - 1]! > v) {
      srt[j] = srt[j - 1]!;
      j--;
    }
    srt[j] = v;
  }
  // With srt ascending, the element at n - (n/2 + 1) is acknowledged by a majority.
  return srt[n - ((n >> 1) + 1)]!;
}

/** Whether the votes (true = granted) win, lose or are still pending in this majority. */
export function majorityVoteResult(c: MajorityConfig, votes: Map<bigint, boolean>): VoteResult {
  // An empty configuration wins every vote, so that a joint config with an
  // empty half behaves like the other half alone.
  if (c.size === 0) return VoteResult.VoteWon;
  let yes = 0;
  let missing = 0;
  for (const id of c) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = (c.size >> 1) + 1;
  if (yes >= q) return VoteResult.VoteWon;
  if (yes + missing >= q) return VoteResult.VotePending;
  return VoteResult.VoteLost;
}

/** Sorted ids, for stable output. */
export function majoritySlice(c: MajorityConfig): bigint[] {
  return [...c].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function majorityString(c: MajorityConfig): string {
  return `(${majoritySlice(c).join(' ')})`;
}

import { describe, expect, it } from 'vitest';
import { type JointConfig, jointCommittedIndex, jointVoteResult } from './joint.js';
import { majorityCommittedIndex, majorityVoteResult } from './majority.js';
import { INDEX_MAX, VoteResult } from './quorum.js';

// Reference definitions, written the slow and obvious way.
function refCommitted(voters: bigint[], acked: Map<bigint, number>): number {
  if (voters.length === 0) return INDEX_MAX;
  let best = 0;
  for (const candidate of voters.map((id) => acked.get(id) ?? 0)) {
    const n = voters.filter((id) => (acked.get(id) ?? 0) >= candidate).length;
    if (n > voters.length / 2 && candidate > best) best = candidate;
  }
  return best;
}

function refVote(voters: bigint[], votes: Map<bigint, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.VoteWon;
  const yes = voters.filter((id) => votes.get(id) === true).length;
  const missing = voters.filter((id) => !votes.has(id)).length;
  if (yes > voters.length / 2) return VoteResult.VoteWon;
  if (yes + missing > voters.length / 2) return VoteResult.VotePending;
  return VoteResult.VoteLost;
}

/** Every assignment of values from `domain` to `n` slots. */
function* assignments<T>(n: number, domain: T[]): Generator<T[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const rest of assignments(n - 1, domain)) for (const v of domain) yield [...rest, v];
}

const ids = [1n, 2n, 3n, 4n, 5n];

describe('quorum', () => {
  it('majority committed index: exhaustive over up to 5 voters', () => {
    for (let n = 0; n <= 5; n++) {
      const voters = ids.slice(0, n);
      for (const idxs of assignments(n, [undefined, 0, 1, 2, 3])) {
        const acked = new Map<bigint, number>();
        idxs.forEach((v, i) => {
          if (v !== undefined) acked.set(voters[i]!, v);
        });
        expect(majorityCommittedIndex(new Set(voters), (id) => acked.get(id))).toBe(
          refCommitted(voters, acked),
        );
      }
    }
  });

  it('joint committed index is the minimum of both halves: exhaustive over overlapping configs', () => {
    // incoming = first a ids, outgoing = ids [b, b+c): they overlap for some choices.
    for (let a = 0; a <= 3; a++) {
      for (let b = 0; b <= 3; b++) {
        for (let c = 0; c <= 3; c++) {
          const inc = ids.slice(0, a);
          const out = ids.slice(b, b + c);
          const all = [...new Set([...inc, ...out])];
          for (const idxs of assignments(all.length, [0, 1, 2, 3])) {
            const acked = new Map(all.map((id, i) => [id, idxs[i]!]));
            const cfg: JointConfig = [new Set(inc), new Set(out)];
            const want = Math.min(refCommitted(inc, acked), refCommitted(out, acked));
            expect(jointCommittedIndex(cfg, (id) => acked.get(id))).toBe(want);
          }
        }
      }
    }
  });

  it('vote results: exhaustive over majority and joint configs', () => {
    for (let a = 0; a <= 3; a++) {
      for (let b = 0; b <= 3; b++) {
        for (let c = 0; c <= 3; c++) {
          const inc = ids.slice(0, a);
          const out = ids.slice(b, b + c);
          const all = [...new Set([...inc, ...out])];
          for (const vs of assignments(all.length, [undefined, true, false])) {
            const votes = new Map<bigint, boolean>();
            vs.forEach((v, i) => {
              if (v !== undefined) votes.set(all[i]!, v);
            });
            const r1 = refVote(inc, votes);
            const r2 = refVote(out, votes);
            expect(majorityVoteResult(new Set(inc), votes)).toBe(r1);
            const want =
              r1 === r2
                ? r1
                : r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost
                  ? VoteResult.VoteLost
                  : VoteResult.VotePending;
            expect(jointVoteResult([new Set(inc), new Set(out)], votes)).toBe(want);
          }
        }
      }
    }
  });

  it('examples', () => {
    const acked = new Map([
      [1n, 10],
      [2n, 5],
      [3n, 7],
    ]);
    const l = (id: bigint) => acked.get(id);
    expect(majorityCommittedIndex(new Set([1n, 2n, 3n]), l)).toBe(7);
    expect(majorityCommittedIndex(new Set(), l)).toBe(INDEX_MAX);
    // joint (1 2 3)&&(2 4): 4 unknown => outgoing commits only what 2 and 4 both have: 0
    expect(jointCommittedIndex([new Set([1n, 2n, 3n]), new Set([2n, 4n])], l)).toBe(0);
    acked.set(4n, 9);
    expect(jointCommittedIndex([new Set([1n, 2n, 3n]), new Set([2n, 4n])], l)).toBe(5);
  });
});

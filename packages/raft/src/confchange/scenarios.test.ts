// Configuration-change scenarios in a compact notation: each step is an
// operation ("simple", "enter-joint", "enter-joint autoleave", "leave-joint")
// with changes v<id> (make voter), l<id> (make learner), r<id> (remove),
// u<id> (update), and the expected configuration or error afterwards.

import { describe, expect, it } from 'vitest';
import { type ConfChangeSingle, ConfChangeType } from '../raftpb.js';
import { ProgressTracker, trackerConfigString } from '../tracker/tracker.js';
import { Changer } from './confchange.js';

function parse(changes: string): ConfChangeSingle[] {
  const types: Record<string, ConfChangeType> = {
    v: ConfChangeType.ConfChangeAddNode,
    l: ConfChangeType.ConfChangeAddLearnerNode,
    r: ConfChangeType.ConfChangeRemoveNode,
    u: ConfChangeType.ConfChangeUpdateNode,
  };
  return changes
    .split(/\s+/)
    .filter(Boolean)
    .map((c) => ({ type: types[c[0]!]!, nodeId: BigInt(c.slice(1)) }));
}

function run(steps: [string, string, string][]): void {
  const tr = new ProgressTracker(10);
  let lastIndex = 0;
  for (const [op, changes, want] of steps) {
    const ch = new Changer(tr, lastIndex++);
    let got: string;
    try {
      const ccs = parse(changes);
      const r =
        op === 'simple'
          ? ch.simple(ccs)
          : op === 'enter-joint'
            ? ch.enterJoint(false, ccs)
            : op === 'enter-joint autoleave'
              ? ch.enterJoint(true, ccs)
              : ch.leaveJoint();
      tr.config = r.config;
      tr.progress = r.progress;
      got = trackerConfigString(tr.config);
    } catch (err) {
      got = (err as Error).message;
    }
    expect(`${op} ${changes} => ${got}`).toBe(`${op} ${changes} => ${want}`);
  }
}

describe('confchange scenarios', () => {
  it('simple changes are idempotent and never change two voters at once', () => {
    run([
      ['simple', 'l1', 'removed all voters'],
      ['simple', 'v1', 'voters=(1)'],
      ['simple', 'v1', 'voters=(1)'],
      ['simple', 'v2 l3', 'voters=(1 2) learners=(3)'],
      ['simple', 'l3 l3 u3', 'voters=(1 2) learners=(3)'],
      ['simple', 'r1 v5', 'more than one voter changed without entering joint config'],
      ['simple', 'v3 v4', 'more than one voter changed without entering joint config'],
      ['simple', 'r1 r2', 'removed all voters'],
      ['simple', 'l2 l4 l5', 'voters=(1) learners=(2 3 4 5)'],
      ['simple', 'v2', 'voters=(1 2) learners=(3 4 5)'],
      ['simple', 'r3 r4 r5 r9', 'voters=(1 2)'],
      ['simple', 'v0 u1', 'voters=(1 2)'],
    ]);
  });

  it('joint consensus with learners_next, explicit and automatic leave', () => {
    run([
      ['simple', 'v1', 'voters=(1)'],
      ['simple', 'v2', 'voters=(1 2)'],
      ['simple', 'v3', 'voters=(1 2 3)'],
      ['leave-joint', '', "can't leave a non-joint config"],
      // Demote 3, promote nothing, add 4: 3 stays an outgoing voter until the leave.
      ['enter-joint', 'l3 v4', 'voters=(1 2 4)&&(1 2 3) learners_next=(3)'],
      ['enter-joint', 'v5', 'config is already joint'],
      ['simple', 'v5', "can't apply simple config change in joint config"],
      ['leave-joint', '', 'voters=(1 2 4) learners=(3)'],
      // Replace the whole voter set at once.
      [
        'enter-joint autoleave',
        'r1 r2 r4 v5 v6 v7',
        'voters=(5 6 7)&&(1 2 4) learners=(3) autoleave',
      ],
      ['leave-joint', '', 'voters=(5 6 7) learners=(3)'],
      // A learner promoted and a voter removed in one joint step.
      ['enter-joint', 'v3 r5', 'voters=(3 6 7)&&(5 6 7)'],
      ['leave-joint', '', 'voters=(3 6 7)'],
      ['enter-joint', 'r3 r6 r7', 'removed all voters'],
    ]);
  });

  it('re-adding a removed outgoing voter while joint restores it', () => {
    run([
      ['simple', 'v1', 'voters=(1)'],
      ['simple', 'v2', 'voters=(1 2)'],
      ['enter-joint', 'r2 v2', 'voters=(1 2)&&(1 2)'],
      ['leave-joint', '', 'voters=(1 2)'],
      ['enter-joint', 'r2 l2', 'voters=(1)&&(1 2) learners_next=(2)'],
      ['leave-joint', '', 'voters=(1) learners=(2)'],
    ]);
  });
});

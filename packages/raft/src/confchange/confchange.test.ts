import { describe, expect, it } from 'vitest';
import { type ConfChangeSingle, ConfChangeType, newConfState } from '../raftpb.js';
import { ProgressTracker, trackerConfigString } from '../tracker/tracker.js';
import { Changer, describeConfChanges } from './confchange.js';
import { restoreConfState } from './restore.js';

const add = (id: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeAddNode,
  nodeId: BigInt(id),
});
const rm = (id: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeRemoveNode,
  nodeId: BigInt(id),
});
const learner = (id: number): ConfChangeSingle => ({
  type: ConfChangeType.ConfChangeAddLearnerNode,
  nodeId: BigInt(id),
});

/** Applies a step to the tracker and returns its description, like etcd's datadriven tests. */
function step(tr: ProgressTracker, f: (c: Changer) => ReturnType<Changer['simple']>): string {
  const r = f(new Changer(tr, 10));
  tr.config = r.config;
  tr.progress = r.progress;
  return trackerConfigString(tr.config);
}

describe('confchange', () => {
  it('simple changes add and remove one voter at a time', () => {
    const tr = new ProgressTracker(10);
    expect(step(tr, (c) => c.simple([add(1)]))).toBe('voters=(1)');
    expect(tr.progress.get(1n)!.next).toBe(10);
    expect(step(tr, (c) => c.simple([add(2)]))).toBe('voters=(1 2)');
    expect(step(tr, (c) => c.simple([learner(3)]))).toBe('voters=(1 2) learners=(3)');
    // Promote the learner: one voter changed.
    expect(step(tr, (c) => c.simple([add(3)]))).toBe('voters=(1 2 3)');
    // Demote a voter.
    expect(step(tr, (c) => c.simple([learner(3)]))).toBe('voters=(1 2) learners=(3)');
    expect(step(tr, (c) => c.simple([rm(3)]))).toBe('voters=(1 2)');
    expect(tr.progress.has(3n)).toBe(false);
    // Two voters at once need joint consensus.
    expect(() => step(tr, (c) => c.simple([add(3), add(4)]))).toThrow(
      'more than one voter changed without entering joint config',
    );
    // A zero id is ignored; removing everyone is refused.
    expect(step(tr, (c) => c.simple([add(0)]))).toBe('voters=(1 2)');
    expect(() => step(tr, (c) => c.simple([rm(1)]))).not.toThrow();
    expect(() => step(tr, (c) => c.simple([rm(2)]))).toThrow('removed all voters');
  });

  it('joint consensus: enter, leave, learners_next', () => {
    const tr = new ProgressTracker(10);
    step(tr, (c) => c.simple([add(1)]));
    step(tr, (c) => c.simple([add(2)]));
    step(tr, (c) => c.simple([add(3)]));
    expect(step(tr, (c) => c.enterJoint(true, [add(4), learner(3), rm(2)]))).toBe(
      'voters=(1 4)&&(1 2 3) learners_next=(3) autoleave',
    );
    expect(() => step(tr, (c) => c.enterJoint(false, [add(5)]))).toThrow('config is already joint');
    expect(() => step(tr, (c) => c.simple([add(5)]))).toThrow(
      "can't apply simple config change in joint config",
    );
    // Node 2 keeps its progress while it is still an outgoing voter.
    expect(tr.progress.has(2n)).toBe(true);
    expect(step(tr, (c) => c.leaveJoint())).toBe('voters=(1 4) learners=(3)');
    expect(tr.progress.has(2n)).toBe(false);
    expect(tr.progress.get(3n)!.isLearner).toBe(true);
    expect(() => step(tr, (c) => c.leaveJoint())).toThrow("can't leave a non-joint config");
  });

  it('entering joint from an empty config is refused', () => {
    const tr = new ProgressTracker(10);
    expect(() => step(tr, (c) => c.enterJoint(false, [add(1)]))).toThrow(
      "can't make a zero-voter config joint",
    );
  });

  it('restore rebuilds joint and simple configurations', () => {
    const cases = [
      newConfState({ voters: [1n, 2n, 3n] }),
      newConfState({ voters: [1n, 2n, 3n], learners: [4n, 5n] }),
      newConfState({ voters: [1n, 2n, 3n], votersOutgoing: [1n, 2n, 4n, 6n], learners: [5n] }),
      newConfState({
        voters: [2n, 3n],
        votersOutgoing: [1n, 2n, 4n],
        learners: [5n],
        learnersNext: [1n],
        autoLeave: true,
      }),
    ];
    for (const cs of cases) {
      const tr = new ProgressTracker(10);
      const r = restoreConfState(new Changer(tr, 10), cs);
      tr.config = r.config;
      tr.progress = r.progress;
      expect(tr.confState()).toEqual({
        voters: [...cs.voters].sort(),
        learners: [...cs.learners].sort(),
        votersOutgoing: [...cs.votersOutgoing].sort(),
        learnersNext: [...cs.learnersNext].sort(),
        autoLeave: cs.autoLeave,
      });
    }
  });

  it('describes changes in etcd notation', () => {
    expect(describeConfChanges([add(1), rm(2), learner(3)])).toBe(
      'AddNode(1) RemoveNode(2) AddLearnerNode(3)',
    );
  });
});

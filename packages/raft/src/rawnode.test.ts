import { describe, expect, it } from 'vitest';
import { decodeConfChange, decodeConfChangeV2, encodeConfChange } from './codec.js';
import { ErrStepLocalMsg, ErrStepPeerNotFound, RaftError } from './errors.js';
import { StateType } from './raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  newConfState,
  newMessage,
} from './raftpb.js';
import { RawNode, type Ready } from './rawnode.js';
import { MemoryStorage } from './storage.js';

function newNode(
  id = 1n,
  storage = new MemoryStorage({ confState: newConfState({ voters: [1n] }) }),
) {
  return {
    storage,
    rn: new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 256,
      rand: () => 0,
    }),
  };
}

/** Handles Readys the way an application must: persist, then apply, then advance. */
function drain(rn: RawNode, storage: MemoryStorage): Ready[] {
  const out: Ready[] = [];
  while (rn.hasReady()) {
    const rd = rn.ready();
    if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.EntryConfChange) rn.applyConfChange(decodeConfChange(e.data));
      if (e.type === EntryType.EntryConfChangeV2) rn.applyConfChange(decodeConfChangeV2(e.data));
    }
    rn.advance(rd);
    out.push(rd);
  }
  return out;
}

describe('RawNode', () => {
  it('refuses local messages and responses from unknown peers', () => {
    const { rn } = newNode();
    expect(() => rn.step(newMessage({ type: MessageType.MsgHup }))).toThrow(ErrStepLocalMsg);
    expect(() => rn.step(newMessage({ type: MessageType.MsgAppResp, from: 9n, term: 1 }))).toThrow(
      ErrStepPeerNotFound,
    );
  });

  it('a single member campaigns, leads, and commits proposals through Ready/advance', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    let rds = drain(rn, storage);
    expect(rds[0]!.softState).toEqual({ lead: 1n, raftState: StateType.StateLeader });
    expect(rds[0]!.mustSync).toBe(true);
    rn.propose(new TextEncoder().encode('foo'));
    rds = drain(rn, storage);
    const committed = rds.flatMap((r) => r.committedEntries);
    expect(committed.map((e) => new TextDecoder().decode(e.data))).toEqual(['foo']);
    expect(rn.hasReady()).toBe(false);
    expect(rn.status().applied).toBe(2);
    expect(rn.status().progress.get(1n)!.match).toBe(2);
  });

  it('hard state appears only when it changed, and mustSync only when term, vote or entries changed', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    drain(rn, storage);
    rn.propose(new Uint8Array([1]));
    const rd = rn.ready();
    expect(rd.hardState?.commit).toBe(2);
    expect(rd.mustSync).toBe(true);
    storage.append(rd.entries);
    storage.setHardState(rd.hardState!);
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
  });

  it('bootstrap writes the initial configuration as committed ConfChange entries', () => {
    const storage = new MemoryStorage();
    const rn = new RawNode({
      id: 1n,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 16,
    });
    rn.bootstrap([{ id: 1n }, { id: 2n }, { id: 3n }]);
    const rd = rn.ready();
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toEqual([
      [1, 1, EntryType.EntryConfChange],
      [2, 1, EntryType.EntryConfChange],
      [3, 1, EntryType.EntryConfChange],
    ]);
    expect(rd.hardState).toEqual({ term: 1, vote: 0n, commit: 3 });
    expect(rd.committedEntries.length).toBe(3);
    expect(rn.status().config.voters).toEqual([1n, 2n, 3n]);
    expect(() => rn.bootstrap([])).toThrow(RaftError);
    storage.append(rd.entries);
    rn.advance(rd);
    const again = new RawNode({
      id: 1n,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 16,
    });
    expect(() => again.bootstrap([{ id: 1n }])).toThrow("can't bootstrap a nonempty Storage");
  });

  it('restarts from storage: entries up to applied are not handed out again', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    drain(rn, storage);
    for (let i = 0; i < 3; i++) rn.propose(new Uint8Array([i]));
    drain(rn, storage);
    const restarted = new RawNode({
      id: 1n,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 16,
      applied: 3,
    });
    const rd = restarted.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([4]); // 1: the leader's empty entry, 2-4: proposals
    expect(rd.entries).toEqual([]);
  });

  it('proposes and applies a ConfChangeV2 joint change that leaves automatically', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    drain(rn, storage);
    rn.proposeConfChange({
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [
        { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2n },
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 3n },
      ],
      context: new Uint8Array(0),
    });
    // The joint config needs 3 to commit anything now; 3 never answers in this
    // test, so only the change itself commits (in the old config).
    drain(rn, storage);
    const cs = rn.status().config;
    expect(cs.voters).toEqual([1n, 3n]);
    expect(cs.votersOutgoing).toEqual([1n]);
    expect(cs.learners).toEqual([2n]);
    expect(cs.autoLeave).toBe(true);
    // The leader proposed the leave-joint entry by itself.
    const last = storage.entries(storage.lastIndex(), storage.lastIndex() + 1, 1 << 20)[0]!;
    expect(last.type).toBe(EntryType.EntryConfChangeV2);
    expect(last.data.length).toBe(0);
  });

  it('ReadIndex on a single member yields a ReadState in the next Ready', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    drain(rn, storage);
    rn.readIndex(new TextEncoder().encode('r1'));
    const rd = rn.ready();
    expect(rd.readStates.map((r) => [r.index, new TextDecoder().decode(r.requestCtx)])).toEqual([
      [1, 'r1'],
    ]);
    rn.advance(rd);
  });

  it('reportUnreachable and reportSnapshot are accepted for known peers', () => {
    const storage = new MemoryStorage({ confState: newConfState({ voters: [1n, 2n] }) });
    const { rn } = newNode(1n, storage);
    rn.campaign();
    rn.step(newMessage({ type: MessageType.MsgVoteResp, from: 2n, to: 1n, term: 1 }));
    expect(rn.status().softState.raftState).toBe(StateType.StateLeader);
    rn.reportUnreachable(2n);
    rn.reportSnapshot(2n, 2);
    expect(rn.status().progress.get(2n)!.state).toBe('StateProbe');
  });

  it('MaxCommittedSizePerReady bounds the committed entries of one Ready', () => {
    const storage = new MemoryStorage({ confState: newConfState({ voters: [1n] }) });
    const rn = new RawNode({
      id: 1n,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 256,
      maxCommittedSizePerReady: 1000,
      rand: () => 0,
    });
    rn.campaign();
    drain(rn, storage);
    rn.proposeBatch(Array.from({ length: 20 }, () => new Uint8Array(100)));
    const sizes = drain(rn, storage)
      .map((rd) => rd.committedEntries.length)
      .filter((n) => n > 0);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(9); // ~106 bytes each, at most 1000 bytes
    expect(sizes.length).toBeGreaterThan(2);
  });

  it('encodes V1 ConfChange proposals as EntryConfChange', () => {
    const { rn, storage } = newNode();
    rn.campaign();
    drain(rn, storage);
    rn.proposeConfChange({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 2n,
      context: new Uint8Array(0),
      id: 0n,
    });
    const rd = rn.ready();
    expect(rd.entries.map((e) => e.type)).toEqual([EntryType.EntryConfChange]);
    expect(rd.entries[0]!.data).toEqual(
      encodeConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: 2n,
        context: new Uint8Array(0),
        id: 0n,
      }),
    );
  });
});

// More scenarios in the spirit of etcd's raft_test.go: the leader's handling
// of append responses, sending in each progress state, and edge cases.

import { describe, expect, it } from 'vitest';
import {
  BLACK_HOLE,
  beat,
  ent,
  hup,
  m,
  Network,
  newTestRaft,
  prop,
  readMessages,
  storageWithPeers,
} from '../test/network.js';
import { encodeConfChange } from './codec.js';
import { NONE, StateType } from './raft.js';
import { ConfChangeType, EntryType, MessageType } from './raftpb.js';
import { ProgressState } from './tracker/progress.js';

describe('leader handling of MsgAppResp', () => {
  it('updates match/next and sends the next batch, or backs off on rejection', () => {
    // The leader's log: 1@0 2@1 (after becoming leader at term 1 with entries 1,2 of term 0/1).
    const cases: [number, boolean, number, number, number, number, number][] = [
      // index, reject, wmatch, wnext, wmsgNum, windex, wcommitted
      [3, true, 0, 3, 0, 0, 0], // stale rejection (next-1 = 2 != 3)
      [2, true, 0, 2, 1, 1, 0], // denied: decrease next and probe
      [2, false, 2, 4, 2, 2, 2], // accepted: commit, broadcast
      [0, false, 0, 3, 0, 0, 0], // an ack of 0 is ignored
    ];
    for (const [index, reject, wmatch, wnext, wmsgNum, windex, wcommitted] of cases) {
      const s = storageWithPeers([1, 2, 3]);
      s.append([ent(1, 0), ent(2, 1)]);
      const r = newTestRaft(1, 10, 1, s);
      r.becomeCandidate();
      r.becomeLeader();
      readMessages(r);
      r.step(
        m({
          from: 2,
          to: 1,
          type: MessageType.MsgAppResp,
          index,
          term: r.term,
          reject,
          rejectHint: index,
        }),
      );
      const pr = r.prs.progress.get(2n)!;
      expect([pr.match, pr.next]).toEqual([wmatch, wnext]);
      const msgs = readMessages(r);
      expect(msgs.length).toBe(wmsgNum);
      for (const msg of msgs) {
        expect(msg.index).toBe(windex);
        expect(msg.commit).toBe(wcommitted);
      }
    }
  });

  it('an ack moves a probing follower to replicate and pipelines further sends', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    const pr = r.prs.progress.get(2n)!;
    expect(pr.state).toBe(ProgressState.StateProbe);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 1 }));
    expect(pr.state).toBe(ProgressState.StateReplicate);
    readMessages(r);
    // In Replicate state, each proposal is sent at once without waiting for acks.
    for (let i = 0; i < 5; i++) r.step(prop(1));
    const apps = readMessages(r).filter((x) => x.type === MessageType.MsgApp);
    expect(apps.map((x) => x.index)).toEqual([1, 2, 3, 4, 5]);
    expect(pr.next).toBe(7);
  });

  it('sends nothing more to a paused probe until a heartbeat response', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.prs.progress.get(2n)!.becomeProbe();
    r.step(prop(1));
    expect(readMessages(r).length).toBe(1);
    r.step(prop(1));
    expect(readMessages(r).length).toBe(0);
    // A heartbeat goes out regardless; the response unpauses.
    r.step(beat(1));
    expect(readMessages(r).map((x) => x.type)).toEqual([MessageType.MsgHeartbeat]);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp, term: r.term }));
    expect(readMessages(r).map((x) => x.type)).toEqual([MessageType.MsgApp]);
  });
});

describe('edge cases', () => {
  it('a second conf change proposal before the first is applied becomes an empty entry', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    const cc = {
      term: 0,
      index: 0,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: 3n,
        context: new Uint8Array(0),
        id: 0n,
      }),
    };
    const index = r.raftLog.lastIndex();
    r.pendingConfIndex = index;
    r.step(m({ from: 1, to: 1, type: MessageType.MsgProp, entries: [cc] }));
    const appended = r.raftLog.entries(index + 1, Number.MAX_SAFE_INTEGER);
    expect(appended.map((e) => [e.type, e.data.length])).toEqual([[EntryType.EntryNormal, 0]]);
    expect(r.pendingConfIndex).toBe(index);
  });

  it('a leader in transfer that gets a higher-term vote request steps down', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.isolate(3);
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(1).leadTransferee).toBe(3n);
    n.send(hup(2));
    expect(n.raft(1).state).toBe(StateType.StateFollower);
    expect(n.raft(1).leadTransferee).toBe(NONE);
  });

  it('a follower forwards a leader transfer request and a read index to its leader', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    const f = n.raft(2);
    f.step(m({ from: 3, to: 2, type: MessageType.MsgTransferLeader }));
    expect(readMessages(f).map((x) => [x.to, x.type])).toEqual([
      [1n, MessageType.MsgTransferLeader],
    ]);
    f.step(m({ from: 2, to: 2, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'r')] }));
    expect(readMessages(f).map((x) => [x.to, x.type])).toEqual([[1n, MessageType.MsgReadIndex]]);
  });

  it('a follower without a leader drops transfer and read requests', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.step(m({ from: 2, to: 1, type: MessageType.MsgTransferLeader }));
    r.step(m({ from: 1, to: 1, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'r')] }));
    expect(readMessages(r)).toEqual([]);
  });

  it('a candidate ignores MsgTimeoutNow; a learner never campaigns on it', () => {
    const c = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    c.becomeCandidate();
    const term = c.term;
    c.step(m({ from: 2, to: 1, type: MessageType.MsgTimeoutNow, term }));
    expect(c.term).toBe(term);
    const l = newTestRaft(2, 10, 1, storageWithPeers([1], [2]));
    l.becomeFollower(1, 1n);
    l.step(m({ from: 1, to: 2, type: MessageType.MsgTimeoutNow, term: 1 }));
    expect(l.state).toBe(StateType.StateFollower);
  });

  it('messages of a lower term are ignored; a pre-vote of a lower term is rejected with our term', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]), { preVote: true });
    r.becomeFollower(5, NONE);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgVote, term: 3, index: 10, logTerm: 3 }));
    expect(readMessages(r)).toEqual([]);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgPreVote, term: 3, index: 10, logTerm: 3 }));
    expect(readMessages(r).map((x) => [x.type, x.term, x.reject])).toEqual([
      [MessageType.MsgPreVoteResp, 5, true],
    ]);
  });

  it('a leader answers a follower-forwarded read only after a quorum of heartbeat acks', () => {
    const n = new Network([undefined, undefined, BLACK_HOLE]);
    n.send(hup(1));
    n.send(prop(1));
    n.send(m({ from: 2, to: 2, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'fwd')] }));
    // 1 and 2 form a quorum of three: answered.
    expect(n.raft(2).readStates.map((x) => x.index)).toEqual([2]);
  });
});

// Behaviour of the raft state machine, in the spirit of etcd's raft_test.go.

import { describe, expect, it } from 'vitest';
import {
  BLACK_HOLE,
  beat,
  ent,
  entsWithTerms,
  hup,
  m,
  Network,
  newTestRaft,
  nextEnts,
  prop,
  readMessages,
  storageWithPeers,
} from '../test/network.js';
import { encodeConfChange, encodeConfChangeV2 } from './codec.js';
import { ErrProposalDropped } from './errors.js';
import { NONE, type Raft, StateType } from './raft.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  type Entry,
  EntryType,
  MessageType,
  newConfState,
  newSnapshot,
} from './raftpb.js';
import { ReadOnlyOption } from './read_only.js';
import { ProgressState } from './tracker/progress.js';

const preVote = (c: object) => ({ ...c, preVote: true });
const checkQuorum = (c: object) => ({ ...c, checkQuorum: true });
const bytes = (s: string) => new TextEncoder().encode(s);

function confChangeEntry(type: ConfChangeType, id: number): Entry {
  return {
    term: 0,
    index: 0,
    type: EntryType.EntryConfChange,
    data: encodeConfChange({ type, nodeId: BigInt(id), context: new Uint8Array(0), id: 0n }),
  };
}

describe('elections', () => {
  for (const pv of [false, true]) {
    it(`elects a leader with a quorum, not without (preVote=${pv})`, () => {
      const cfg = pv ? preVote : (c: object) => c;
      const cases: [Network, StateType, number][] = [
        [new Network([undefined, undefined, undefined], cfg), StateType.StateLeader, 1],
        [new Network([undefined, undefined, BLACK_HOLE], cfg), StateType.StateLeader, 1],
        [
          new Network([undefined, BLACK_HOLE, BLACK_HOLE], cfg),
          pv ? StateType.StatePreCandidate : StateType.StateCandidate,
          pv ? 0 : 1,
        ],
        [
          new Network([undefined, BLACK_HOLE, BLACK_HOLE, undefined], cfg),
          pv ? StateType.StatePreCandidate : StateType.StateCandidate,
          pv ? 0 : 1,
        ],
        [
          new Network([undefined, BLACK_HOLE, BLACK_HOLE, undefined, undefined], cfg),
          StateType.StateLeader,
          1,
        ],
      ];
      for (const [n, state, term] of cases) {
        n.send(hup(1));
        expect(n.raft(1).state).toBe(state);
        expect(n.raft(1).term).toBe(term);
      }
    });
  }

  it('a node with an older log cannot win; the newer one can (leader cycle)', () => {
    for (const pv of [false, true]) {
      const n = new Network([undefined, undefined, undefined], pv ? preVote : (c) => c);
      for (let id = 1; id <= 3; id++) {
        n.send(hup(id));
        for (let j = 1; j <= 3; j++) {
          expect(n.raft(j).state).toBe(j === id ? StateType.StateLeader : StateType.StateFollower);
        }
      }
    }
  });

  it('an election overwrites a newer-term uncommitted log on the losers', () => {
    // 1 won term 1 and replicated to 2; 3 won term 2 but its entry reached
    // nobody; 4 and 5 voted for 3 in term 2. 1 loses at term 2 (4 and 5 have
    // voted, 3's log is newer) and wins at term 3, overwriting 3's entry.
    const mk = (id: number, terms: number[], term: number, vote: number) => {
      const s = storageWithPeers([1, 2, 3, 4, 5]);
      s.append(entsWithTerms(...terms));
      const r = newTestRaft(id, 10, 1, s);
      r.loadState({ term, vote: BigInt(vote), commit: 0 });
      return r;
    };
    const n = new Network([
      mk(1, [1], 1, 0),
      mk(2, [1], 1, 0),
      mk(3, [2], 2, 3),
      mk(4, [], 2, 3),
      mk(5, [], 2, 3),
    ]);
    n.send(hup(1));
    const r1 = n.raft(1);
    expect(r1.state).toBe(StateType.StateFollower);
    expect(r1.term).toBe(2);
    n.send(hup(1));
    expect(r1.state).toBe(StateType.StateLeader);
    expect(r1.term).toBe(3);
    for (const id of [1, 2, 3, 4, 5]) {
      expect(
        n
          .raft(id)
          .raftLog.allEntries()
          .map((e) => e.term),
      ).toEqual([1, 3]);
    }
  });

  it('split votes end with someone winning eventually (dueling candidates)', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.cut(1, 3);
    n.send(hup(1));
    n.send(hup(3));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
    expect(n.raft(3).state).toBe(StateType.StateCandidate);
    n.recover();
    // 3 campaigns at a higher term but its log is behind: it loses, and the
    // group moves to its term with no leader until someone campaigns again.
    n.send(hup(3));
    expect(n.raft(3).state).toBe(StateType.StateFollower);
    expect(n.raft(1).state).toBe(StateType.StateFollower);
    expect(n.raft(1).term).toBe(2);
    n.send(hup(1));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
  });

  it('with PreVote a dueling pre-candidate with a stale log does not raise the term', () => {
    const n = new Network([undefined, undefined, undefined], preVote);
    n.cut(1, 3);
    n.send(hup(1));
    n.send(hup(3));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
    expect(n.raft(3).state).toBe(StateType.StateFollower);
    n.recover();
    n.send(hup(3));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
    expect(n.raft(1).term).toBe(1);
    expect(n.raft(3).term).toBe(1);
  });

  it('a candidate concedes to a leader of the same term', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.isolate(1);
    n.send(hup(1));
    n.send(hup(3));
    n.recover();
    n.send(beat(3));
    n.send(prop(3, 'force follower'));
    n.send(beat(3));
    expect(n.raft(1).state).toBe(StateType.StateFollower);
    expect(n.raft(1).term).toBe(1);
    expect(n.raft(1).raftLog.allEntries()).toEqual(n.raft(3).raftLog.allEntries());
  });

  it('a single node campaigns and wins at once', () => {
    const n = new Network([undefined]);
    n.send(hup(1));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
    const pn = new Network([undefined], preVote);
    pn.send(hup(1));
    expect(pn.raft(1).state).toBe(StateType.StateLeader);
  });

  it('votes are granted from any state only for a higher term with an up-to-date log', () => {
    for (const vt of [MessageType.MsgVote, MessageType.MsgPreVote]) {
      for (const st of [
        StateType.StateFollower,
        StateType.StateCandidate,
        StateType.StateLeader,
        StateType.StatePreCandidate,
      ]) {
        const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
        r.term = 1;
        if (st === StateType.StateFollower) r.becomeFollower(r.term, 3n);
        if (st === StateType.StatePreCandidate) r.becomePreCandidate();
        if (st === StateType.StateCandidate) r.becomeCandidate();
        if (st === StateType.StateLeader) {
          r.becomeCandidate();
          r.becomeLeader();
        }
        const origTerm = r.term;
        const newTerm = r.term + 1;
        r.step(m({ from: 2, to: 1, type: vt, term: newTerm, logTerm: newTerm, index: 42 }));
        const msgs = readMessages(r);
        expect(msgs.length).toBe(1);
        expect(msgs[0]!.reject).toBe(false);
        if (vt === MessageType.MsgVote) {
          expect(r.state).toBe(StateType.StateFollower);
          expect(r.term).toBe(newTerm);
          expect(r.vote).toBe(2n);
        } else {
          // A pre-vote changes nothing.
          expect(r.state).toBe(st);
          expect(r.term).toBe(origTerm);
        }
      }
    }
  });

  it('a member does not campaign while it has unapplied committed conf changes', () => {
    const s = storageWithPeers([1, 2]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    r.becomeFollower(r.term, NONE);
    r.raftLog.append([
      { ...confChangeEntry(ConfChangeType.ConfChangeAddNode, 3), index: 2, term: 1 },
    ]);
    r.raftLog.commitTo(2);
    r.step(hup(1));
    expect(r.state).toBe(StateType.StateFollower);
    r.raftLog.appliedTo(2);
    r.step(hup(1));
    expect(r.state).toBe(StateType.StateCandidate);
  });

  it('learners never campaign, even past the election timeout', () => {
    const r = newTestRaft(2, 10, 1, storageWithPeers([1], [2]));
    r.becomeFollower(1, NONE);
    for (let i = 0; i < 100; i++) r.tick();
    expect(r.state).toBe(StateType.StateFollower);
    r.step(hup(2));
    expect(r.state).toBe(StateType.StateFollower);
  });

  it('a learner still answers vote requests (it may have been promoted without knowing)', () => {
    const r = newTestRaft(2, 10, 1, storageWithPeers([1], [2]));
    r.step(m({ from: 1, to: 2, term: 2, type: MessageType.MsgVote, logTerm: 11, index: 11 }));
    const msgs = readMessages(r);
    expect(msgs.map((x) => [x.type, x.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
  });

  it('stale-term messages are ignored; with CheckQuorum a stale leader is told the new term', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeFollower(2, NONE);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgApp, term: 1 }));
    expect(readMessages(r)).toEqual([]);
    const q = newTestRaft(1, 10, 1, storageWithPeers([1, 2]), { checkQuorum: true });
    q.becomeFollower(2, NONE);
    q.step(m({ from: 2, to: 1, type: MessageType.MsgApp, term: 1 }));
    const msgs = readMessages(q);
    expect(msgs.map((x) => [x.type, x.term])).toEqual([[MessageType.MsgAppResp, 2]]);
  });
});

describe('CheckQuorum', () => {
  it('a leader steps down when it hears from no quorum within an election timeout', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2, 3]), { checkQuorum: true });
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < r.electionTimeout + 1; i++) {
      r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp, term: r.term }));
      r.tick();
    }
    expect(r.state).toBe(StateType.StateLeader);
    // The last response counts for the next round; the round after that fails.
    for (let i = 0; i < 2 * r.electionTimeout + 1; i++) r.tick();
    expect(r.state).toBe(StateType.StateFollower);
  });

  it('followers with a live leader ignore vote requests (leader lease)', () => {
    const n = new Network([undefined, undefined, undefined], checkQuorum);
    const [a, b, c] = [n.raft(1), n.raft(2), n.raft(3)];
    b.randomizedElectionTimeout = b.electionTimeout + 1;
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    n.send(hup(1));
    expect(a.state).toBe(StateType.StateLeader);
    expect(c.state).toBe(StateType.StateFollower);
    n.send(hup(3));
    // 2 has a live leader: it ignores 3's request; 3 stays candidate.
    expect(c.state).toBe(StateType.StateCandidate);
    // Once 2's lease ran out, 3 can win.
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    n.send(hup(3));
    expect(c.state).toBe(StateType.StateLeader);
  });

  it('a stuck candidate with a higher term is freed by the leader learning its term', () => {
    const n = new Network([undefined, undefined, undefined], checkQuorum);
    const [a, b, c] = [n.raft(1), n.raft(2), n.raft(3)];
    b.randomizedElectionTimeout = b.electionTimeout + 1;
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    n.send(hup(1));
    n.isolate(1);
    n.send(hup(3));
    expect(b.state).toBe(StateType.StateFollower);
    expect(c.state).toBe(StateType.StateCandidate);
    expect(c.term).toBe(b.term + 1);
    n.send(hup(3));
    expect(c.term).toBe(b.term + 2);
    n.recover();
    n.send(m({ from: 1, to: 3, type: MessageType.MsgHeartbeat, term: a.term }));
    // The leader learns of the higher term from 3's response and steps down.
    expect(a.state).toBe(StateType.StateFollower);
    expect(c.term).toBe(a.term);
    n.send(hup(3));
    expect(c.state).toBe(StateType.StateLeader);
  });

  it('a leader steps down after removal is applied', () => {
    const s = storageWithPeers([1, 2]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    r.applyConfChange({
      transition: 0,
      changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1n }],
      context: new Uint8Array(0),
    });
    expect(r.state).toBe(StateType.StateFollower);
    expect(r.promotable()).toBe(false);
  });
});

describe('PreVote', () => {
  it('a partitioned member rejoining does not disrupt the leader', () => {
    const n = new Network([undefined, undefined, undefined], preVote);
    n.send(hup(1));
    n.isolate(3);
    n.send(prop(1));
    n.send(prop(1));
    // 3 campaigns repeatedly while cut off: with PreVote its term does not move.
    n.send(hup(3));
    n.send(hup(3));
    expect(n.raft(3).term).toBe(1);
    expect(n.raft(3).state).toBe(StateType.StatePreCandidate);
    n.recover();
    n.send(hup(3));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
    expect(n.raft(1).term).toBe(1);
    expect(n.raft(3).state).toBe(StateType.StateFollower);
  });

  it('a member with a smaller term can still complete an election', () => {
    const n = new Network([undefined, undefined, undefined], preVote);
    n.send(hup(1));
    n.isolate(3);
    n.send(prop(1));
    n.send(prop(1));
    // Bump 3's term while isolated (without PreVote it would campaign at term 2+).
    n.raft(3).term = 3;
    n.recover();
    // 1 and 2 lose their leader: 2 campaigns and must still win.
    n.raft(1).becomeFollower(n.raft(1).term, NONE);
    // 2 wins, learns of 3's higher term from its answer and steps down; its
    // next campaign (above 3's term) succeeds, and 3, whose log is stale,
    // never leads.
    for (let i = 0; i < 2 && n.raft(2).state !== StateType.StateLeader; i++) n.send(hup(2));
    if (n.raft(2).state !== StateType.StateLeader) n.send(hup(2));
    expect(n.raft(2).state).toBe(StateType.StateLeader);
    expect(n.raft(3).state).toBe(StateType.StateFollower);
    expect(n.raft(3).term).toBe(n.raft(2).term);
  });
});

describe('replication', () => {
  it('replicates and commits in a healthy and a partitioned network', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.send(prop(1));
    for (const id of [1, 2, 3]) expect(n.raft(id).raftLog.committed).toBe(2);
    n.isolate(3);
    n.send(prop(1, 'two'));
    expect(n.raft(1).raftLog.committed).toBe(3);
    expect(n.raft(3).raftLog.committed).toBe(2);
    n.recover();
    n.send(beat(1));
    expect(n.raft(3).raftLog.committed).toBe(3);
  });

  it('proposals are forwarded from followers to the leader, unless disabled', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.send(prop(2, 'from follower'));
    expect(n.raft(1).raftLog.committed).toBe(2);
    const d = new Network([undefined, undefined, undefined], (c) => ({
      ...c,
      disableProposalForwarding: true,
    }));
    d.send(hup(1));
    expect(() => d.raft(2).step(prop(2))).toThrow(ErrProposalDropped);
  });

  it('proposals without a leader are dropped', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    expect(() => r.step(prop(1))).toThrow(ErrProposalDropped);
    r.becomeCandidate();
    expect(() => r.step(prop(1))).toThrow(ErrProposalDropped);
  });

  it('a leader cannot commit entries of a previous term until one of its own commits', () => {
    const n = new Network([undefined, undefined, undefined, undefined, undefined]);
    n.send(hup(1));
    n.cut(1, 3);
    n.cut(1, 4);
    n.cut(1, 5);
    n.send(prop(1));
    n.send(prop(1));
    expect(n.raft(1).raftLog.committed).toBe(1);
    n.recover();
    n.ignore(MessageType.MsgApp);
    n.send(hup(2));
    expect(n.raft(2).raftLog.committed).toBe(1);
    n.recover();
    n.send(beat(2));
    n.send(prop(2));
    expect(n.raft(2).raftLog.committed).toBe(5);
  });

  it('MaxUncommittedEntriesSize drops proposals beyond the limit', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2, 3]), {
      maxUncommittedEntriesSize: 1024,
    });
    r.becomeCandidate();
    r.becomeLeader();
    const data = new Uint8Array(256);
    for (let i = 0; i < 4; i++)
      r.step(
        m({ from: 1, to: 1, type: MessageType.MsgProp, entries: [ent(0, 0, 'x'.repeat(256))] }),
      );
    expect(r.uncommittedSize).toBe(1024);
    expect(() =>
      r.step(m({ from: 1, to: 1, type: MessageType.MsgProp, entries: [{ ...ent(0, 0), data }] })),
    ).toThrow(ErrProposalDropped);
    // Empty entries are always accepted.
    r.step(m({ from: 1, to: 1, type: MessageType.MsgProp, entries: [ent(0, 0)] }));
    // Applying the committed entries frees the budget.
    const committed = r.raftLog.allEntries().slice(1, 5);
    r.raftLog.commitTo(5);
    r.advance({ entries: [], committedEntries: committed, snapshot: undefined });
    expect(r.uncommittedSize).toBe(0);
  });

  it('a follower answers a stale MsgApp with its commit index', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeFollower(2, 2n);
    r.raftLog.append([ent(1, 1), ent(2, 2), ent(3, 2)]);
    r.raftLog.commitTo(3);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgApp, term: 2, logTerm: 1, index: 1 }));
    expect(readMessages(r).map((x) => [x.index, x.reject])).toEqual([[3, false]]);
  });

  it('heartbeats carry min(match, commit) and advance the follower commit index', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeFollower(2, 2n);
    r.raftLog.append([ent(1, 1), ent(2, 2), ent(3, 3)]);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeat, term: 2, commit: 3 }));
    expect(r.raftLog.committed).toBe(3);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeat, term: 2, commit: 1 }));
    expect(r.raftLog.committed).toBe(3); // never decreases
    const l = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    l.becomeCandidate();
    l.becomeLeader();
    l.raftLog.commitTo(1);
    l.prs.progress.get(2n)!.match = 1;
    readMessages(l);
    l.step(beat(1));
    const hb = readMessages(l).sort((a, b) => Number(a.to - b.to));
    expect(hb.map((x) => [x.to, x.commit])).toEqual([
      [2n, 1],
      [3n, 0],
    ]);
  });

  it('fast log rejection: the hint skips a whole term per round trip', () => {
    // Leader: terms 1 2 2 2 4 4 4 (index 1..7); follower: 1 2 2 3 3 3 3 3 3.
    const ls = storageWithPeers([1, 2]);
    ls.append(entsWithTerms(1, 2, 2, 2, 4, 4, 4));
    const leader = newTestRaft(1, 10, 1, ls);
    leader.loadState({ term: 4, vote: NONE, commit: 1 });
    leader.becomeCandidate();
    leader.becomeLeader();
    const fs = storageWithPeers([1, 2]);
    fs.append(entsWithTerms(1, 2, 2, 3, 3, 3, 3, 3, 3));
    const follower = newTestRaft(2, 10, 1, fs);
    follower.loadState({ term: 4, vote: NONE, commit: 1 });
    follower.becomeFollower(5, 1n);
    readMessages(leader);
    // The leader probes at its last index (8, the empty entry of term 5).
    leader.sendAppend(2n);
    const rounds: number[] = [];
    for (let i = 0; i < 10; i++) {
      const app = readMessages(leader).filter((x) => x.type === MessageType.MsgApp);
      if (app.length === 0) break;
      follower.step(app[0]!);
      const resp = readMessages(follower)[0]!;
      rounds.push(resp.reject ? resp.rejectHint : -resp.index);
      leader.step(resp);
      if (!resp.reject) break;
    }
    // First rejection hints at 4 (the last follower index with term <= 4 at or below 7);
    // the leader then finds its last entry with term <= 3 (index 4) and matches.
    expect(rounds.length).toBeLessThanOrEqual(3);
    expect(follower.raftLog.allEntries().map((e) => e.term)).toEqual(
      leader.raftLog.allEntries().map((e) => e.term),
    );
  });
});

describe('flow control', () => {
  function replicatingLeader(maxInflight: number, extra = {}): Raft {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2]), {
      maxInflightMsgs: maxInflight,
      maxSizePerMsg: 0,
      ...extra,
    });
    r.becomeCandidate();
    r.becomeLeader();
    const pr = r.prs.progress.get(2n)!;
    pr.becomeReplicate();
    return r;
  }

  it('the inflights window fills and blocks further MsgApps', () => {
    const r = replicatingLeader(3);
    const pr = r.prs.progress.get(2n)!;
    for (let i = 0; i < 3; i++) {
      r.step(prop(1));
      expect(readMessages(r).length).toBe(1);
    }
    expect(pr.inflights.full()).toBe(true);
    for (let i = 0; i < 5; i++) {
      r.step(prop(1));
      expect(readMessages(r).length).toBe(0);
    }
  });

  it('acknowledgements free slots and the window moves forward', () => {
    const r = replicatingLeader(3);
    const pr = r.prs.progress.get(2n)!;
    for (let i = 0; i < 3; i++) r.step(prop(1));
    readMessages(r);
    for (let tt = 2; tt < 5; tt++) {
      r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index: tt }));
      readMessages(r);
      r.step(prop(1));
      expect(readMessages(r).length).toBe(1);
      expect(pr.inflights.full()).toBe(true);
    }
  });

  it('a heartbeat response lets one message through a full window', () => {
    const r = replicatingLeader(3);
    const pr = r.prs.progress.get(2n)!;
    for (let i = 0; i < 3; i++) r.step(prop(1));
    readMessages(r);
    expect(pr.inflights.full()).toBe(true);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp, term: r.term }));
    expect(pr.inflights.full()).toBe(true); // the freed slot was used at once
    expect(readMessages(r).filter((x) => x.type === MessageType.MsgApp).length).toBe(1);
  });

  it('MaxInflightBytes bounds the payload in flight', () => {
    const r = replicatingLeader(100, { maxInflightBytes: 1000, maxSizePerMsg: 1 << 20 });
    const pr = r.prs.progress.get(2n)!;
    let sent = 0;
    for (let i = 0; i < 10; i++) {
      r.step(
        m({ from: 1, to: 1, type: MessageType.MsgProp, entries: [ent(0, 0, 'x'.repeat(300))] }),
      );
      sent += readMessages(r).length;
    }
    expect(sent).toBe(4); // 4 * 300 >= 1000: the window is full after the fourth
    expect(pr.inflights.full()).toBe(true);
  });

  it('MaxSizePerMsg limits the entries per MsgApp', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2]), { maxSizePerMsg: 100 });
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 10; i++) r.appendEntry([ent(0, 0, 'x'.repeat(40))]);
    readMessages(r);
    r.prs.progress.get(2n)!.becomeReplicate();
    r.prs.progress.get(2n)!.next = 2;
    r.sendAppend(2n);
    const app = readMessages(r)[0]!;
    expect(app.entries.length).toBe(2);
  });

  it('a probing follower gets one message per heartbeat interval', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step(prop(1));
    r.step(prop(1));
    r.step(prop(1));
    expect(readMessages(r).filter((x) => x.type === MessageType.MsgApp).length).toBe(1);
    // Heartbeat responses unpause it.
    r.step(m({ from: 2, to: 1, type: MessageType.MsgHeartbeatResp, term: r.term }));
    expect(readMessages(r).filter((x) => x.type === MessageType.MsgApp).length).toBe(1);
  });

  it('an unreachable follower in Replicate state goes back to probing', () => {
    const r = replicatingLeader(10);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgUnreachable }));
    expect(r.prs.progress.get(2n)!.state).toBe(ProgressState.StateProbe);
  });
});

describe('snapshots', () => {
  const snap = newSnapshot({
    metadata: { index: 11, term: 11, confState: newConfState({ voters: [1n, 2n] }) },
  });

  function leaderWithSnapshot(): Raft {
    const s = storageWithPeers([1, 2]);
    s.applySnapshot(snap);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    return r;
  }

  it('a lagging follower is sent the snapshot and paused', () => {
    const r = leaderWithSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = r.raftLog.firstIndex();
    pr.recentActive = true;
    r.step(
      m({
        from: 2,
        to: 1,
        type: MessageType.MsgAppResp,
        term: r.term,
        index: pr.next - 1,
        reject: true,
      }),
    );
    expect(pr.state).toBe(ProgressState.StateSnapshot);
    expect(pr.pendingSnapshot).toBe(11);
    const msgs = readMessages(r);
    expect(msgs.map((x) => [x.type, x.snapshot?.metadata.index])).toEqual([
      [MessageType.MsgSnap, 11],
    ]);
    // Nothing more is sent while the snapshot is pending.
    r.step(prop(1));
    expect(readMessages(r).length).toBe(0);
  });

  it('a snapshot failure resumes probing from match+1; success resumes after the snapshot', () => {
    for (const reject of [true, false]) {
      const r = leaderWithSnapshot();
      const pr = r.prs.progress.get(2n)!;
      pr.next = 1;
      pr.becomeSnapshot(11);
      r.step(m({ from: 2, to: 1, type: MessageType.MsgSnapStatus, reject }));
      expect(pr.state).toBe(ProgressState.StateProbe);
      expect(pr.pendingSnapshot).toBe(0);
      expect(pr.next).toBe(reject ? 1 : 12);
      expect(pr.msgAppFlowPaused).toBe(true);
    }
  });

  it('an acknowledgement past the pending snapshot aborts it', () => {
    const r = leaderWithSnapshot();
    const pr = r.prs.progress.get(2n)!;
    pr.next = 1;
    pr.becomeSnapshot(11);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 12 }));
    expect(pr.pendingSnapshot).toBe(0);
    expect(pr.state).toBe(ProgressState.StateReplicate);
    expect(pr.next).toBe(13);
  });

  it('a follower restores a snapshot and its configuration', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    expect(
      r.restore(
        newSnapshot({
          metadata: {
            index: 11,
            term: 11,
            confState: newConfState({ voters: [1n, 2n, 3n], learners: [4n] }),
          },
        }),
      ),
    ).toBe(true);
    expect(r.raftLog.lastIndex()).toBe(11);
    expect(r.raftLog.term(11)).toBe(11);
    expect(r.prs.voterNodes()).toEqual([1n, 2n, 3n]);
    expect(r.prs.learnerNodes()).toEqual([4n]);
    // The same snapshot again is ignored.
    expect(
      r.restore(
        newSnapshot({
          metadata: { index: 11, term: 11, confState: newConfState({ voters: [1n, 2n, 3n] }) },
        }),
      ),
    ).toBe(false);
  });

  it('a snapshot whose last entry matches the log only fast-forwards the commit index', () => {
    const s = storageWithPeers([1, 2]);
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    const r = newTestRaft(1, 10, 1, s);
    r.loadState({ term: 1, vote: NONE, commit: 1 });
    expect(
      r.restore(
        newSnapshot({
          metadata: { index: 2, term: 1, confState: newConfState({ voters: [1n, 2n] }) },
        }),
      ),
    ).toBe(false);
    expect(r.raftLog.committed).toBe(2);
    expect(r.raftLog.lastIndex()).toBe(3);
  });

  it('a slow follower catches up through a snapshot after compaction', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.isolate(3);
    for (let i = 0; i < 20; i++) n.send(prop(1));
    const lead = n.raft(1);
    const ls = n.storage.get(1n)!;
    nextEnts(lead, ls);
    ls.createSnapshot(
      lead.raftLog.applied,
      newConfState({ voters: [1n, 2n, 3n] }),
      new Uint8Array(0),
    );
    ls.compact(lead.raftLog.applied);
    n.recover();
    // Heartbeats until 3 is recently active, then the snapshot flows.
    for (let i = 0; i < 3; i++) n.send(beat(1));
    n.send(prop(1));
    expect(n.raft(3).raftLog.committed).toBe(lead.raftLog.committed);
  });
});

describe('membership', () => {
  it('adding, removing and promoting members changes the quorum', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1]));
    const add = (type: ConfChangeType, id: number) =>
      r.applyConfChange({
        transition: 0,
        changes: [{ type, nodeId: BigInt(id) }],
        context: new Uint8Array(0),
      });
    add(ConfChangeType.ConfChangeAddNode, 2);
    expect(r.prs.voterNodes()).toEqual([1n, 2n]);
    add(ConfChangeType.ConfChangeAddLearnerNode, 3);
    expect(r.prs.learnerNodes()).toEqual([3n]);
    expect(r.prs.progress.get(3n)!.isLearner).toBe(true);
    add(ConfChangeType.ConfChangeAddNode, 3);
    expect(r.prs.voterNodes()).toEqual([1n, 2n, 3n]);
    add(ConfChangeType.ConfChangeRemoveNode, 2);
    expect(r.prs.voterNodes()).toEqual([1n, 3n]);
    expect(r.prs.progress.has(2n)).toBe(false);
  });

  it('removing a node lets the leader commit what the remaining quorum has', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    r.step(prop(1));
    // Node 2 never acknowledges; its removal shrinks the quorum to 1.
    expect(r.raftLog.committed).toBe(0);
    r.applyConfChange({
      transition: 0,
      changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 2n }],
      context: new Uint8Array(0),
    });
    expect(r.raftLog.committed).toBe(2);
  });

  it('only one conf change is pending at a time; a new leader assumes one may be', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2]));
    r.becomeCandidate();
    r.becomeLeader();
    expect(r.pendingConfIndex).toBe(0);
    const cc = () =>
      r.step(
        m({
          from: 1,
          to: 1,
          type: MessageType.MsgProp,
          entries: [confChangeEntry(ConfChangeType.ConfChangeAddNode, 3)],
        }),
      );
    // The leader's empty entry (index 1) is not applied yet: refused, as an empty normal entry.
    r.pendingConfIndex = 1;
    cc();
    const last = r.raftLog.allEntries().at(-1)!;
    expect(last.type).toBe(EntryType.EntryNormal);
    r.raftLog.commitTo(2);
    r.raftLog.appliedTo(2);
    cc();
    expect(r.raftLog.allEntries().at(-1)!.type).toBe(EntryType.EntryConfChange);
    expect(r.pendingConfIndex).toBe(3);
    cc();
    expect(r.raftLog.allEntries().at(-1)!.type).toBe(EntryType.EntryNormal);
  });

  it('joint consensus: enter (V2), commit in both majorities, auto-leave', () => {
    const s = storageWithPeers([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    r.applyConfChange({
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [
        { type: ConfChangeType.ConfChangeAddNode, nodeId: 4n },
        { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3n },
      ],
      context: new Uint8Array(0),
    });
    expect(r.prs.config.voters[1].size).toBe(3);
    expect(r.prs.config.autoLeave).toBe(true);
    readMessages(r);
    r.step(prop(1));
    // Acks from 2 and 3 are a majority of the outgoing config but not of the incoming (1 2 4).
    r.step(m({ from: 3, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(0);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(2);
    // Applying the joint entry (pendingConfIndex) makes the leader propose leaving.
    r.pendingConfIndex = 2;
    r.advance({ entries: [], committedEntries: r.raftLog.nextEnts(), snapshot: undefined });
    const last = r.raftLog.allEntries().at(-1)!;
    expect(last.type).toBe(EntryType.EntryConfChangeV2);
    expect(last.data.length).toBe(0);
    r.applyConfChange({ transition: 0, changes: [], context: new Uint8Array(0) });
    expect(r.prs.config.voters[1].size).toBe(0);
    expect(r.prs.voterNodes()).toEqual([1n, 2n, 4n]);
  });

  it('refuses to leave a non-joint config, and to change a joint one', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1]));
    r.becomeCandidate();
    r.becomeLeader();
    r.raftLog.appliedTo(r.raftLog.committed);
    const prop2 = (cc: Parameters<typeof encodeConfChangeV2>[0]) =>
      r.step(
        m({
          from: 1,
          to: 1,
          type: MessageType.MsgProp,
          entries: [
            { term: 0, index: 0, type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) },
          ],
        }),
      );
    prop2({ transition: 0, changes: [], context: new Uint8Array(0) });
    expect(r.raftLog.allEntries().at(-1)!.type).toBe(EntryType.EntryNormal);
  });
});

describe('learners', () => {
  it('a learner receives the log but its acknowledgements do not count towards commit', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2], [3]));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step(prop(1));
    const sent = readMessages(r).map((x) => x.to);
    expect(sent).toContain(3n); // replicated to the learner too
    r.step(m({ from: 3, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(0);
    r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index: 2 }));
    expect(r.raftLog.committed).toBe(2);
  });

  it('a promoted learner becomes promotable and can campaign', () => {
    const r = newTestRaft(2, 10, 1, storageWithPeers([1], [2]));
    expect(r.promotable()).toBe(false);
    r.applyConfChange({
      transition: 0,
      changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: 2n }],
      context: new Uint8Array(0),
    });
    expect(r.promotable()).toBe(true);
    expect(r.isLearner).toBe(false);
    r.step(hup(2));
    expect(r.state).toBe(StateType.StateCandidate);
  });

  it('votes are not requested from learners', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2], [3]));
    r.step(hup(1));
    expect(readMessages(r).map((x) => x.to)).toEqual([2n]);
  });
});

describe('ReadIndex', () => {
  it('ReadOnlySafe: answered after a heartbeat round, from leader and forwarded from followers', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.send(prop(1));
    for (const [id, ctx] of [
      [1, 'ctx1'],
      [2, 'ctx2'],
      [3, 'ctx3'],
    ] as const) {
      n.send(m({ from: id, to: id, type: MessageType.MsgReadIndex, entries: [ent(0, 0, ctx)] }));
      const r = n.raft(id);
      expect(r.readStates.length).toBe(1);
      expect(r.readStates[0]!.index).toBe(2);
      expect(new TextDecoder().decode(r.readStates[0]!.requestCtx)).toBe(ctx);
      r.readStates = [];
    }
  });

  it('ReadOnlySafe: no answer without a quorum of heartbeat acknowledgements', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.isolate(1);
    n.send(m({ from: 1, to: 1, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'x')] }));
    expect(n.raft(1).readStates.length).toBe(0);
  });

  it('ReadOnlyLeaseBased: answered at once by a leader', () => {
    const n = new Network([undefined, undefined, undefined], (c) => ({
      ...c,
      readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased,
      checkQuorum: true,
    }));
    n.send(hup(1));
    n.isolate(1); // no round trip needed: the lease is trusted
    n.send(m({ from: 1, to: 1, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'x')] }));
    expect(n.raft(1).readStates.map((r) => r.index)).toEqual([1]);
  });

  it('a new leader postpones reads until it commits an entry of its term', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.ignore(MessageType.MsgApp);
    n.send(hup(1));
    n.send(m({ from: 1, to: 1, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'ctx')] }));
    expect(n.raft(1).readStates.length).toBe(0);
    expect(n.raft(1).pendingReadIndexMessages.length).toBe(1);
    n.recover();
    n.send(beat(1));
    n.send(prop(1));
    expect(n.raft(1).readStates.length).toBe(1);
    expect(n.raft(1).readStates[0]!.index).toBeGreaterThanOrEqual(1);
  });

  it('a single voter answers reads at once', () => {
    const n = new Network([undefined]);
    n.send(hup(1));
    n.send(m({ from: 1, to: 1, type: MessageType.MsgReadIndex, entries: [ent(0, 0, 'x')] }));
    expect(n.raft(1).readStates.map((r) => r.index)).toEqual([1]);
  });
});

describe('leader transfer', () => {
  it('to an up-to-date follower: it campaigns at once and wins', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.send(m({ from: 2, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(2).state).toBe(StateType.StateLeader);
    expect(n.raft(1).state).toBe(StateType.StateFollower);
    expect(n.raft(1).leadTransferee).toBe(NONE);
    // And back, requested through a follower.
    n.send(m({ from: 1, to: 3, type: MessageType.MsgTransferLeader }));
    expect(n.raft(1).state).toBe(StateType.StateLeader);
  });

  it('to a lagging follower: it is caught up first, then takes over', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.isolate(3);
    n.send(prop(1));
    n.recover();
    n.ignore(MessageType.MsgAppResp);
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(1).leadTransferee).toBe(3n);
    expect(() => n.raft(1).step(prop(1))).toThrow(ErrProposalDropped);
    n.recover();
    n.send(beat(1));
    expect(n.raft(3).state).toBe(StateType.StateLeader);
  });

  it('is aborted after an election timeout without success', () => {
    const n = new Network([undefined, undefined, BLACK_HOLE]);
    n.send(hup(1));
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    const l = n.raft(1);
    expect(l.leadTransferee).toBe(3n);
    for (let i = 0; i < l.heartbeatTimeout; i++) l.tick();
    expect(l.leadTransferee).toBe(3n);
    for (let i = 0; i < l.electionTimeout - l.heartbeatTimeout; i++) l.tick();
    expect(l.leadTransferee).toBe(NONE);
    l.step(prop(1)); // proposals are accepted again
  });

  it('to self, to a non-member and to a learner are ignored', () => {
    const n = new Network([undefined, undefined, undefined]);
    n.send(hup(1));
    n.send(m({ from: 1, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(1).leadTransferee).toBe(NONE);
    n.send(m({ from: 4, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(1).leadTransferee).toBe(NONE);
    expect(n.raft(1).state).toBe(StateType.StateLeader);
  });

  it('a second transfer to another node replaces the first; to the same node is ignored', () => {
    const n = new Network([undefined, undefined, BLACK_HOLE]);
    n.send(hup(1));
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    const l = n.raft(1);
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    expect(l.leadTransferee).toBe(3n);
    n.send(m({ from: 2, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(2).state).toBe(StateType.StateLeader);
  });

  it('is abandoned when the transferee is removed', () => {
    const n = new Network([undefined, undefined, BLACK_HOLE]);
    n.send(hup(1));
    n.send(m({ from: 3, to: 1, type: MessageType.MsgTransferLeader }));
    const l = n.raft(1);
    l.applyConfChange({
      transition: 0,
      changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3n }],
      context: new Uint8Array(0),
    });
    expect(l.leadTransferee).toBe(NONE);
  });

  it('MsgTimeoutNow makes a follower campaign past a leader lease (CheckQuorum)', () => {
    const n = new Network([undefined, undefined, undefined], checkQuorum);
    n.send(hup(1));
    n.send(m({ from: 2, to: 1, type: MessageType.MsgTransferLeader }));
    expect(n.raft(2).state).toBe(StateType.StateLeader);
  });
});

describe('misc', () => {
  it('bytes helper', () => {
    expect(bytes('a')).toEqual(new Uint8Array([97]));
  });
});

// Scenarios from the Raft paper (§5), in the spirit of etcd's raft_paper_test.go.

import { describe, expect, it } from 'vitest';
import {
  BLACK_HOLE,
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
import { NONE, StateType } from './raft.js';
import { type Entry, MessageType } from './raftpb.js';

const sortMsgs = <T extends { to: bigint }>(ms: T[]) => [...ms].sort((a, b) => Number(a.to - b.to));

function commitNoopEntry(
  r: ReturnType<typeof newTestRaft>,
  s: ReturnType<typeof storageWithPeers>,
) {
  // Replicates the leader's empty entry to everyone and commits it.
  r.bcastAppend();
  for (const msg of readMessages(r)) {
    r.step(
      m({
        from: msg.to,
        to: 1,
        type: MessageType.MsgAppResp,
        term: r.term,
        index: msg.index + msg.entries.length,
      }),
    );
  }
  readMessages(r);
  s.append(r.raftLog.unstableEntries());
  r.raftLog.appliedTo(r.raftLog.committed);
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
}

describe('Raft paper §5.1: terms', () => {
  for (const [name, become] of [
    ['follower', (r: ReturnType<typeof newTestRaft>) => r.becomeFollower(1, 2n)],
    ['candidate', (r: ReturnType<typeof newTestRaft>) => r.becomeCandidate()],
    [
      'leader',
      (r: ReturnType<typeof newTestRaft>) => {
        r.becomeCandidate();
        r.becomeLeader();
      },
    ],
  ] as const) {
    it(`a ${name} receiving a higher term updates its term and becomes follower`, () => {
      const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
      become(r);
      r.step(m({ type: MessageType.MsgApp, term: 2 }));
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.StateFollower);
    });
  }

  it('rejects (ignores) a stale-term request', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    r.loadState({ term: 2, vote: NONE, commit: 0 });
    let called = false;
    // A stale MsgApp must not reach the role's step function: the log stays empty.
    r.step(m({ type: MessageType.MsgApp, term: 1, from: 2, to: 1, entries: [ent(1, 1)] }));
    called = r.raftLog.lastIndex() !== 0;
    expect(called).toBe(false);
  });

  it('members start as followers', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    expect(r.state).toBe(StateType.StateFollower);
  });
});

describe('Raft paper §5.2: leader election', () => {
  it('a leader broadcasts heartbeats every heartbeat timeout', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 10; i++) r.appendEntry([ent(i + 1, 0)]);
    readMessages(r);
    r.tick();
    const msgs = sortMsgs(readMessages(r));
    expect(msgs.map((x) => [x.from, x.to, x.type, x.term])).toEqual([
      [1n, 2n, MessageType.MsgHeartbeat, 1],
      [1n, 3n, MessageType.MsgHeartbeat, 1],
    ]);
  });

  for (const state of ['follower', 'candidate'] as const) {
    it(`a ${state} starts an election after the election timeout`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, storageWithPeers([1, 2, 3]));
      if (state === 'follower') r.becomeFollower(1, 2n);
      else r.becomeCandidate();
      for (let i = 1; i < 2 * et; i++) r.tick();
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.StateCandidate);
      expect(r.prs.votes.get(r.id)).toBe(true);
      const msgs = sortMsgs(readMessages(r));
      expect(msgs.map((x) => [x.to, x.type, x.term])).toEqual([
        [2n, MessageType.MsgVote, 2],
        [3n, MessageType.MsgVote, 2],
      ]);
    });
  }

  it('a candidate wins with a majority, loses with a majority against, else waits', () => {
    const cases: [number, Map<number, boolean>, StateType][] = [
      [1, new Map(), StateType.StateLeader],
      [
        3,
        new Map([
          [2, true],
          [3, true],
        ]),
        StateType.StateLeader,
      ],
      [3, new Map([[2, true]]), StateType.StateLeader],
      [
        5,
        new Map([
          [2, true],
          [3, true],
          [4, true],
          [5, true],
        ]),
        StateType.StateLeader,
      ],
      [
        5,
        new Map([
          [2, true],
          [3, true],
          [4, true],
        ]),
        StateType.StateLeader,
      ],
      [
        5,
        new Map([
          [2, true],
          [3, true],
        ]),
        StateType.StateLeader,
      ],
      [
        3,
        new Map([
          [2, false],
          [3, false],
        ]),
        StateType.StateFollower,
      ],
      [
        5,
        new Map([
          [2, false],
          [3, false],
          [4, false],
          [5, false],
        ]),
        StateType.StateFollower,
      ],
      [
        5,
        new Map([
          [2, true],
          [3, false],
          [4, false],
          [5, false],
        ]),
        StateType.StateFollower,
      ],
      [3, new Map(), StateType.StateCandidate],
      [5, new Map([[2, true]]), StateType.StateCandidate],
      [
        5,
        new Map([
          [2, false],
          [3, false],
        ]),
        StateType.StateCandidate,
      ],
      [5, new Map(), StateType.StateCandidate],
    ];
    for (const [size, votes, want] of cases) {
      const r = newTestRaft(
        1,
        10,
        1,
        storageWithPeers(Array.from({ length: size }, (_, i) => i + 1)),
      );
      r.step(hup(1));
      for (const [id, v] of votes) {
        r.step(m({ from: id, to: 1, term: r.term, type: MessageType.MsgVoteResp, reject: !v }));
      }
      expect(r.state).toBe(want);
      expect(r.term).toBe(1);
    }
  });

  it('a follower votes for at most one candidate per term, first come first served', () => {
    const cases: [bigint, bigint, boolean][] = [
      [NONE, 1n, false],
      [NONE, 2n, false],
      [1n, 1n, false],
      [2n, 2n, false],
      [1n, 2n, true],
      [2n, 1n, true],
    ];
    for (const [vote, nvote, wreject] of cases) {
      const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
      r.loadState({ term: 1, vote, commit: 0 });
      r.step(m({ from: nvote, to: 1, term: 1, type: MessageType.MsgVote }));
      const msgs = readMessages(r);
      expect(msgs.map((x) => [x.to, x.type, x.reject])).toEqual([
        [nvote, MessageType.MsgVoteResp, wreject],
      ]);
    }
  });

  it('a candidate falls back to follower on a MsgApp of its term or higher', () => {
    for (const term of [1, 2]) {
      const r = newTestRaft(1, 10, 1, storageWithPeers([1, 2, 3]));
      r.step(hup(1));
      expect(r.state).toBe(StateType.StateCandidate);
      r.step(m({ from: 2, to: 1, term, type: MessageType.MsgApp }));
      expect(r.state).toBe(StateType.StateFollower);
      expect(r.term).toBe(term);
    }
  });

  for (const state of ['follower', 'candidate'] as const) {
    it(`${state} election timeouts are randomized over [et, 2et)`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, storageWithPeers([1, 2, 3]));
      const timeouts = new Set<number>();
      for (let round = 0; round < 50 * et; round++) {
        if (state === 'follower') r.becomeFollower(r.term + 1, 2n);
        else r.becomeCandidate();
        let time = 0;
        while (readMessages(r).length === 0) {
          r.tick();
          time++;
        }
        timeouts.add(time);
      }
      for (let d = et + 1; d < 2 * et; d++) expect(timeouts.has(d)).toBe(true);
      expect([...timeouts].every((t) => t >= et && t <= 2 * et)).toBe(true);
    });
  }

  it('randomized timeouts rarely conflict among followers', () => {
    const et = 10;
    const size = 5;
    const rs = Array.from({ length: size }, (_, i) =>
      newTestRaft(i + 1, et, 1, storageWithPeers([1, 2, 3, 4, 5])),
    );
    let conflicts = 0;
    for (let round = 0; round < 1000; round++) {
      for (const r of rs) r.becomeFollower(r.term + 1, NONE);
      let timeoutNum = 0;
      while (timeoutNum === 0) {
        for (const r of rs) {
          r.tick();
          if (readMessages(r).length > 0) timeoutNum++;
        }
      }
      if (timeoutNum > 1) conflicts++;
    }
    expect(conflicts / 1000).toBeLessThanOrEqual(0.3);
  });
});

describe('Raft paper §5.3: log replication', () => {
  it('a leader appends a proposal and replicates it', () => {
    const s = storageWithPeers([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    r.step(prop(1, 'some data'));
    expect(r.raftLog.lastIndex()).toBe(li + 1);
    expect(r.raftLog.committed).toBe(li);
    const msgs = sortMsgs(readMessages(r));
    expect(msgs.map((x) => [x.to, x.type, x.index, x.logTerm, x.commit, x.entries.length])).toEqual(
      [
        [2n, MessageType.MsgApp, li, 1, li, 1],
        [3n, MessageType.MsgApp, li, 1, li, 1],
      ],
    );
    expect(r.raftLog.unstableEntries().map((e) => [e.index, e.term])).toEqual([[li + 1, 1]]);
  });

  it('a leader commits an entry once a majority has it, and tells followers', () => {
    const s = storageWithPeers([1, 2, 3]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    r.step(prop(1, 'some data'));
    for (const msg of readMessages(r)) r.step(acceptAndReply(msg));
    expect(r.raftLog.committed).toBe(li + 1);
    expect(nextEnts(r, s).map((e) => [e.index, e.term])).toEqual([[li + 1, 1]]);
    const msgs = sortMsgs(readMessages(r));
    expect(msgs.every((x) => x.type === MessageType.MsgApp && x.commit === li + 1)).toBe(true);
  });

  it('a leader commits once the majority (and only the majority) acknowledges', () => {
    const cases: [number, Set<number>, boolean][] = [
      [1, new Set(), true],
      [3, new Set(), false],
      [3, new Set([2]), true],
      [3, new Set([2, 3]), true],
      [5, new Set(), false],
      [5, new Set([2]), false],
      [5, new Set([2, 3]), true],
      [5, new Set([2, 3, 4]), true],
      [5, new Set([2, 3, 4, 5]), true],
    ];
    for (const [size, acceptors, wack] of cases) {
      const s = storageWithPeers(Array.from({ length: size }, (_, i) => i + 1));
      const r = newTestRaft(1, 10, 1, s);
      r.becomeCandidate();
      r.becomeLeader();
      commitNoopEntry(r, s);
      const li = r.raftLog.lastIndex();
      r.step(prop(1, 'some data'));
      for (const msg of readMessages(r))
        if (acceptors.has(Number(msg.to))) r.step(acceptAndReply(msg));
      expect(r.raftLog.committed > li).toBe(wack);
    }
  });

  it('committing an entry commits all preceding entries, including those of previous leaders', () => {
    const tests: Entry[][] = [[], [ent(1, 2)], [ent(1, 1), ent(2, 2)], [ent(1, 1)]];
    for (const prev of tests) {
      const s = storageWithPeers([1, 2, 3]);
      s.append(prev);
      const r = newTestRaft(1, 10, 1, s);
      r.loadState({ term: 2, vote: NONE, commit: 0 });
      r.becomeCandidate();
      r.becomeLeader();
      r.step(prop(1, 'some data'));
      for (const msg of readMessages(r)) r.step(acceptAndReply(msg));
      const li = prev.length;
      expect(nextEnts(r, s).map((e) => e.index)).toEqual([
        ...prev.map((e) => e.index),
        li + 1,
        li + 2,
      ]);
    }
  });

  it('a follower commits what the leader says is committed, up to what it has', () => {
    const cases: [Entry[], number][] = [
      [[ent(1, 1, 'some data')], 1],
      [[ent(1, 1, 'some data'), ent(2, 1, 'some data2')], 2],
      [[ent(1, 1, 'some data2'), ent(2, 1, 'some data')], 2],
      [[ent(1, 1, 'some data'), ent(2, 1, 'some data2')], 1],
    ];
    for (const [ents, commit] of cases) {
      const s = storageWithPeers([1, 2, 3]);
      const r = newTestRaft(1, 10, 1, s);
      r.becomeFollower(1, 2n);
      r.step(m({ from: 2, to: 1, type: MessageType.MsgApp, term: 1, entries: ents, commit }));
      expect(r.raftLog.committed).toBe(commit);
      expect(nextEnts(r, s)).toEqual(ents.slice(0, commit));
    }
  });

  it('a follower rejects a MsgApp whose previous entry it does not have (consistency check)', () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const cases: [number, number, number, boolean, number][] = [
      [0, 0, 1, false, 0],
      [ents[0]!.term, ents[0]!.index, 1, false, 0],
      [ents[1]!.term, ents[1]!.index, 2, false, 0],
      [ents[0]!.term, ents[1]!.index, ents[1]!.index, true, 1],
      [ents[1]!.term + 1, ents[1]!.index + 1, ents[1]!.index + 1, true, 2],
    ];
    for (const [term, index, windex, wreject, wrejectHint] of cases) {
      const s = storageWithPeers([1, 2, 3]);
      s.append(ents);
      const r = newTestRaft(1, 10, 1, s);
      r.loadState({ term: 0, vote: NONE, commit: 1 });
      r.becomeFollower(2, 2n);
      r.step(m({ from: 2, to: 1, type: MessageType.MsgApp, term: 2, logTerm: term, index }));
      const msgs = readMessages(r);
      expect(msgs.map((x) => [x.type, x.index, x.reject, x.rejectHint])).toEqual([
        [MessageType.MsgAppResp, windex, wreject, wrejectHint],
      ]);
    }
  });

  it('a follower deletes conflicting entries and appends new ones', () => {
    const cases: [number, number, Entry[], Entry[], Entry[]][] = [
      [2, 2, [ent(3, 3)], [ent(1, 1), ent(2, 2), ent(3, 3)], [ent(3, 3)]],
      [1, 1, [ent(2, 3), ent(3, 4)], [ent(1, 1), ent(2, 3), ent(3, 4)], [ent(2, 3), ent(3, 4)]],
      [0, 0, [ent(1, 1)], [ent(1, 1), ent(2, 2)], []],
      [0, 0, [ent(1, 3)], [ent(1, 3)], [ent(1, 3)]],
    ];
    for (const [index, term, ents, wents, wunstable] of cases) {
      const s = storageWithPeers([1, 2, 3]);
      s.append([ent(1, 1), ent(2, 2)]);
      const r = newTestRaft(1, 10, 1, s);
      r.becomeFollower(2, 2n);
      r.step(
        m({
          from: 2,
          to: 1,
          type: MessageType.MsgApp,
          term: 2,
          logTerm: term,
          index,
          entries: ents,
        }),
      );
      expect(r.raftLog.allEntries()).toEqual(wents);
      expect(r.raftLog.unstableEntries()).toEqual(wunstable);
    }
  });

  it('Figure 7: a new leader brings every kind of divergent follower log in line with its own', () => {
    const ents = entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    const term = 8;
    const followers = [
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6), // (a) missing one entry
      entsWithTerms(1, 1, 1, 4), // (b) missing many
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6), // (c) one extra uncommitted
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7), // (d) extra entries of a later term
      entsWithTerms(1, 1, 1, 4, 4, 4, 4), // (e) divergent entries of term 4
      entsWithTerms(1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3), // (f) divergent entries of terms 2 and 3
    ];
    for (const fents of followers) {
      const ls = storageWithPeers([1, 2, 3]);
      ls.append(ents);
      const lead = newTestRaft(1, 10, 1, ls);
      lead.loadState({ term, vote: NONE, commit: ents.length });
      const fs = storageWithPeers([1, 2, 3]);
      fs.append(fents);
      const follower = newTestRaft(2, 10, 1, fs);
      follower.loadState({ term: term - 1, vote: NONE, commit: 0 });
      // The candidate needs the third member's vote: it grants it.
      const n = new Network([lead, follower, BLACK_HOLE]);
      n.send(hup(1));
      n.send(m({ from: 3, to: 1, type: MessageType.MsgVoteResp, term: term + 1 }));
      n.send(prop(1));
      expect(lead.state).toBe(StateType.StateLeader);
      expect(follower.raftLog.allEntries()).toEqual(lead.raftLog.allEntries());
      expect(follower.raftLog.committed).toBe(lead.raftLog.committed);
    }
  });

  it('a voter rejects candidates whose log is less up to date (§5.4.1)', () => {
    const cases: [Entry[], number, number, boolean][] = [
      [[ent(1, 1)], 1, 1, true], // same log: granted
      [[ent(1, 1)], 2, 1, true], // higher last term
      [[ent(1, 1)], 1, 2, true],
      [[ent(1, 1), ent(2, 1)], 1, 1, false], // shorter at the same term
      [[ent(1, 2)], 1, 1, false], // older last term
      [[ent(1, 2)], 2, 1, true], // same last entry
      [[ent(1, 2)], 3, 1, true], // later last term
    ];
    for (const [ents, logTerm, index, wgrant] of cases) {
      const s = storageWithPeers([1, 2]);
      s.append(ents);
      const r = newTestRaft(1, 10, 1, s);
      r.step(m({ from: 2, to: 1, type: MessageType.MsgVote, term: 3, logTerm, index }));
      const msgs = readMessages(r);
      expect(msgs.length).toBe(1);
      expect([ents.length, logTerm, index, msgs[0]!.reject]).toEqual([
        ents.length,
        logTerm,
        index,
        !wgrant,
      ]);
    }
  });

  it('Figure 8: a leader never commits an entry of a previous term by counting replicas', () => {
    // S1 led in term 2 and wrote index 2 (term 2) to S2 only; S5 led in term 3
    // and wrote its own index 2 (term 3) nowhere else. Now S1 leads in term 4
    // and gets its term-2 entry onto S3: it is on a majority (S1 S2 S3).
    const mk = (id: number, terms: number[], term: number) => {
      const s = storageWithPeers([1, 2, 3, 4, 5]);
      s.append(entsWithTerms(...terms));
      const r = newTestRaft(id, 10, 1, s);
      r.loadState({ term, vote: NONE, commit: 1 });
      return r;
    };
    const s1 = mk(1, [1, 2], 3);
    s1.step(hup(1));
    expect(s1.term).toBe(4);
    s1.step(m({ from: 2, to: 1, term: 4, type: MessageType.MsgVoteResp }));
    s1.step(m({ from: 3, to: 1, term: 4, type: MessageType.MsgVoteResp }));
    expect(s1.state).toBe(StateType.StateLeader);
    readMessages(s1);
    // S2 and S3 acknowledge index 2 (not yet the leader's term-4 entry at 3).
    s1.step(m({ from: 2, to: 1, term: 4, type: MessageType.MsgAppResp, index: 2 }));
    s1.step(m({ from: 3, to: 1, term: 4, type: MessageType.MsgAppResp, index: 2 }));
    expect(s1.raftLog.committed).toBe(1);

    // Rightly so: if S1 crashes now, S5 (last term 3) can win votes from S2,
    // S3 and S4 and overwrite index 2 everywhere.
    const [s2, s3, s4] = [mk(2, [1, 2], 3), mk(3, [1, 2], 3), mk(4, [1], 3)];
    const s5 = mk(5, [1, 3], 3);
    const n = new Network([BLACK_HOLE, s2, s3, s4, s5]);
    n.send(hup(5));
    expect(s5.state).toBe(StateType.StateLeader);
    n.send(prop(5));
    for (const r of [s2, s3, s4]) expect(r.raftLog.term(2)).toBe(3);

    // Once S1's own term-4 entry is on a majority, it commits, and with it index 2.
    s1.step(m({ from: 2, to: 1, term: 4, type: MessageType.MsgAppResp, index: 3 }));
    expect(s1.raftLog.committed).toBe(1);
    s1.step(m({ from: 3, to: 1, term: 4, type: MessageType.MsgAppResp, index: 3 }));
    expect(s1.raftLog.committed).toBe(3);
  });

  it('a leader only commits entries of its own term; older ones are committed with them (§5.4.2)', () => {
    const ents = [ent(1, 1), ent(2, 2)];
    const cases: [number, number][] = [
      [1, 0], // do not commit log entries of previous terms
      [2, 0],
      [3, 3], // commit the entry of the current term, and everything before it
    ];
    for (const [index, wcommit] of cases) {
      const s = storageWithPeers([1, 2, 3]);
      s.append(ents);
      const r = newTestRaft(1, 10, 1, s);
      r.loadState({ term: 2, vote: NONE, commit: 0 });
      r.becomeCandidate(); // term 3
      r.becomeLeader(); // appends the empty entry at index 3, term 3
      readMessages(r);
      r.step(m({ from: 2, to: 1, type: MessageType.MsgAppResp, term: r.term, index }));
      expect(r.raftLog.committed).toBe(wcommit);
    }
  });
});

function acceptAndReply(msg: {
  from: bigint;
  to: bigint;
  term: number;
  index: number;
  entries: unknown[];
  type: number;
}) {
  expect(msg.type).toBe(MessageType.MsgApp);
  return m({
    from: msg.to,
    to: msg.from,
    type: MessageType.MsgAppResp,
    term: msg.term,
    index: msg.index + msg.entries.length,
  });
}

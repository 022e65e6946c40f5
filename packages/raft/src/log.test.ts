import { describe, expect, it } from 'vitest';
import { ErrCompacted } from './errors.js';
import { RaftLog } from './log.js';
import { discardLogger, RaftPanic } from './logger.js';
import { type Entry, newConfState, newEntry, newSnapshot } from './raftpb.js';
import { MemoryStorage } from './storage.js';
import { NO_LIMIT } from './util.js';

const e = (index: number, term: number) => newEntry({ index, term });
const newLog = (s = new MemoryStorage()) => new RaftLog(s, discardLogger);

describe('raftLog', () => {
  it('findConflict', () => {
    const prev = [e(1, 1), e(2, 2), e(3, 3)];
    const cases: [Entry[], number][] = [
      [[], 0],
      [[e(1, 1), e(2, 2), e(3, 3)], 0],
      [[e(2, 2), e(3, 3)], 0],
      [[e(3, 3)], 0],
      [[e(1, 1), e(2, 2), e(3, 3), e(4, 4), e(5, 4)], 4],
      [[e(4, 4), e(5, 4)], 4],
      [[e(1, 4), e(2, 4)], 1],
      [[e(2, 1), e(3, 4), e(4, 4)], 2],
      [[e(3, 1), e(4, 2), e(5, 4), e(6, 4)], 3],
    ];
    for (const [ents, want] of cases) {
      const l = newLog();
      l.append(prev);
      expect(l.findConflict(ents)).toBe(want);
    }
  });

  it('findConflictByTerm skips whole terms', () => {
    const l = newLog();
    // terms: 1 1 1 4 4 5 5 6 6 6
    l.append([1, 1, 1, 4, 4, 5, 5, 6, 6, 6].map((t, i) => e(i + 1, t)));
    expect(l.findConflictByTerm(10, 3)).toBe(3);
    expect(l.findConflictByTerm(10, 5)).toBe(7);
    expect(l.findConflictByTerm(10, 6)).toBe(10);
    expect(l.findConflictByTerm(4, 4)).toBe(4);
    expect(l.findConflictByTerm(11, 6)).toBe(11); // out of range: unchanged
  });

  it('isUpToDate', () => {
    const l = newLog();
    l.append([e(1, 1), e(2, 2), e(3, 3)]);
    expect(l.isUpToDate(2, 4)).toBe(true); // greater term wins
    expect(l.isUpToDate(2, 2)).toBe(false); // smaller term loses
    expect(l.isUpToDate(2, 3)).toBe(false); // same term, shorter
    expect(l.isUpToDate(3, 3)).toBe(true);
    expect(l.isUpToDate(4, 3)).toBe(true);
  });

  it('append truncates conflicting suffixes', () => {
    const prev = [e(1, 1), e(2, 2)];
    const cases: [Entry[], number, Entry[], number][] = [
      [[], 2, [e(1, 1), e(2, 2)], 3],
      [[e(3, 2)], 3, [e(1, 1), e(2, 2), e(3, 2)], 3],
      [[e(1, 2)], 1, [e(1, 2)], 1],
      [[e(2, 3), e(3, 3)], 3, [e(1, 1), e(2, 3), e(3, 3)], 2],
    ];
    for (const [ents, windex, wents, wunstable] of cases) {
      const s = new MemoryStorage();
      s.append(prev);
      const l = newLog(s);
      expect(l.append(ents)).toBe(windex);
      expect(l.entries(1, NO_LIMIT)).toEqual(wents);
      expect(l.unstable.offset).toBe(wunstable);
    }
  });

  it('maybeAppend: match, conflict, commit, and the committed-conflict panic', () => {
    const previous = [e(1, 1), e(2, 2), e(3, 3)];
    const lastindex = 3;
    const lastterm = 3;
    const commit = 1;
    type C = [number, number, number, Entry[], number | undefined, number, boolean];
    const cases: C[] = [
      // not match: term differs / index out of bound
      [lastterm - 1, lastindex, lastindex, [e(lastindex + 1, 4)], undefined, commit, false],
      [lastterm, lastindex + 1, lastindex, [e(lastindex + 2, 4)], undefined, commit, false],
      // match with the last entry
      [lastterm, lastindex, lastindex, [], lastindex, lastindex, false],
      [lastterm, lastindex, lastindex + 1, [], lastindex, lastindex, false],
      [lastterm, lastindex, lastindex - 1, [], lastindex, lastindex - 1, false],
      [lastterm, lastindex, 0, [], lastindex, commit, false],
      [0, 0, lastindex, [], 0, commit, false],
      [lastterm, lastindex, lastindex, [e(lastindex + 1, 4)], lastindex + 1, lastindex, false],
      [
        lastterm,
        lastindex,
        lastindex + 1,
        [e(lastindex + 1, 4)],
        lastindex + 1,
        lastindex + 1,
        false,
      ],
      [
        lastterm,
        lastindex,
        lastindex + 2,
        [e(lastindex + 1, 4)],
        lastindex + 1,
        lastindex + 1,
        false,
      ],
      // match with an entry in the middle
      [lastterm - 1, lastindex - 1, lastindex, [e(lastindex, 4)], lastindex, lastindex, false],
      [
        lastterm - 2,
        lastindex - 2,
        lastindex,
        [e(lastindex - 1, 4)],
        lastindex - 1,
        lastindex - 1,
        false,
      ],
      [lastterm - 3, lastindex - 3, lastindex, [e(lastindex - 2, 4)], undefined, commit, true],
      [
        lastterm - 2,
        lastindex - 2,
        lastindex,
        [e(lastindex - 1, 4), e(lastindex, 4)],
        lastindex,
        lastindex,
        false,
      ],
    ];
    for (const [logTerm, index, committed, ents, wlasti, wcommit, wpanic] of cases) {
      const l = newLog();
      l.append(previous);
      l.committed = commit;
      if (wpanic) {
        expect(() => l.maybeAppend(index, logTerm, committed, ents)).toThrow(RaftPanic);
        continue;
      }
      expect(l.maybeAppend(index, logTerm, committed, ents)).toBe(wlasti);
      expect(l.committed).toBe(wcommit);
      if (wlasti !== undefined && ents.length > 0) {
        expect(l.slice(l.lastIndex() - ents.length + 1, l.lastIndex() + 1, NO_LIMIT)).toEqual(ents);
      }
    }
  });

  it('compaction after persisting: stableTo, storage compaction, ErrCompacted', () => {
    const s = new MemoryStorage();
    for (let i = 1; i <= 1000; i++) s.append([e(i, i)]);
    const l = newLog(s);
    l.commitTo(1000);
    l.appliedTo(1000);
    for (const [compactAt, wleft] of [
      [500, 500],
      [700, 300],
      [1000, 0],
    ] as const) {
      s.compact(compactAt);
      expect(l.allEntries().length).toBe(wleft);
    }
    expect(() => l.slice(999, 1001, NO_LIMIT)).toThrow(ErrCompacted);
    expect(() => l.slice(1000, 1002, NO_LIMIT)).toThrow(ErrCompacted);
  });

  it('nextEnts and hasNextEnts follow applied and committed, and snapshots', () => {
    const s = new MemoryStorage();
    s.applySnapshot(newSnapshot({ metadata: { index: 3, term: 1, confState: newConfState() } }));
    const l = newLog(s);
    l.append([e(4, 1), e(5, 1), e(6, 1)]);
    l.commitTo(5);
    for (const [applied, want] of [
      [0, [e(4, 1), e(5, 1)]],
      [3, [e(4, 1), e(5, 1)]],
      [4, [e(5, 1)]],
      [5, []],
    ] as const) {
      l.applied = 0;
      l.appliedTo(applied);
      expect(l.nextEnts()).toEqual(want);
      expect(l.hasNextEnts()).toBe(want.length > 0);
    }
  });

  it('stableTo keeps entries whose term changed, and after a snapshot', () => {
    const l = newLog();
    l.append([e(1, 1), e(2, 2)]);
    l.stableTo(1, 2); // wrong term: nothing happens
    expect(l.unstable.offset).toBe(1);
    l.stableTo(2, 2);
    expect(l.unstable.offset).toBe(3);
    expect(l.unstableEntries()).toEqual([]);
  });

  it('commitTo never decreases and refuses to pass the last index', () => {
    const l = newLog();
    l.append([e(1, 1), e(2, 2), e(3, 3)]);
    l.committed = 2;
    l.commitTo(1);
    expect(l.committed).toBe(2);
    l.commitTo(3);
    expect(l.committed).toBe(3);
    expect(() => l.commitTo(4)).toThrow(RaftPanic);
  });

  it('term handles the snapshot boundary, compaction and out-of-range', () => {
    const offset = 100;
    const num = 100;
    const s = new MemoryStorage();
    s.applySnapshot(newSnapshot({ metadata: { index: offset, term: 1 } }));
    const l = newLog(s);
    for (let i = 1; i < num; i++) l.append([e(offset + i, i)]);
    expect(l.term(offset - 1)).toBe(0);
    expect(l.term(offset)).toBe(1);
    expect(l.term(offset + num / 2)).toBe(num / 2);
    expect(l.term(offset + num - 1)).toBe(num - 1);
    expect(l.term(offset + num)).toBe(0);
  });

  it('restore from a snapshot resets the log', () => {
    const l = newLog();
    l.append([e(1, 1)]);
    l.restore(newSnapshot({ metadata: { index: 100, term: 5 } }));
    expect(l.committed).toBe(100);
    expect(l.firstIndex()).toBe(101);
    expect(l.lastIndex()).toBe(100);
    expect(l.term(100)).toBe(5);
    expect(l.hasPendingSnapshot()).toBe(true);
    l.append([e(101, 5)]);
    expect(l.lastIndex()).toBe(101);
  });

  it('slice honours the size limit across the stable/unstable boundary', () => {
    const s = new MemoryStorage();
    for (let i = 1; i <= 5; i++) s.append([e(i, 1)]);
    const l = newLog(s);
    for (let i = 6; i <= 10; i++) l.append([e(i, 1)]);
    expect(l.slice(3, 9, NO_LIMIT).map((x) => x.index)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(l.slice(3, 9, 0).map((x) => x.index)).toEqual([3]);
    expect(l.slice(5, 7, 12).map((x) => x.index)).toEqual([5, 6]); // each entry is 6 bytes
    expect(() => l.slice(3, 12, NO_LIMIT)).toThrow(RaftPanic);
  });
});

import { describe, expect, it } from 'vitest';
import { Unstable } from './log_unstable.js';
import { discardLogger } from './logger.js';
import { type Entry, newEntry, newSnapshot, type Snapshot } from './raftpb.js';

const e = (index: number, term: number) => newEntry({ index, term });
const snap = (index: number, term: number) => newSnapshot({ metadata: { index, term } });

function unstable(entries: Entry[], offset: number, snapshot?: Snapshot): Unstable {
  const u = new Unstable(offset, discardLogger);
  u.entries = entries;
  u.snapshot = snapshot;
  return u;
}

describe('unstable log', () => {
  it('maybeFirstIndex comes only from a pending snapshot', () => {
    expect(unstable([e(5, 1)], 5).maybeFirstIndex()).toBeUndefined();
    expect(unstable([], 0).maybeFirstIndex()).toBeUndefined();
    expect(unstable([e(5, 1)], 5, snap(4, 1)).maybeFirstIndex()).toBe(5);
    expect(unstable([], 5, snap(4, 1)).maybeFirstIndex()).toBe(5);
  });

  it('maybeLastIndex: the last entry, else the snapshot', () => {
    expect(unstable([e(5, 1)], 5).maybeLastIndex()).toBe(5);
    expect(unstable([e(5, 1)], 5, snap(4, 1)).maybeLastIndex()).toBe(5);
    expect(unstable([], 5, snap(4, 1)).maybeLastIndex()).toBe(4);
    expect(unstable([], 0).maybeLastIndex()).toBeUndefined();
  });

  it('maybeTerm knows its entries and the snapshot boundary', () => {
    const cases: [Unstable, number, number | undefined][] = [
      [unstable([e(5, 1)], 5), 5, 1],
      [unstable([e(5, 1)], 5), 6, undefined],
      [unstable([e(5, 1)], 5), 4, undefined],
      [unstable([e(5, 1)], 5, snap(4, 1)), 5, 1],
      [unstable([e(5, 1)], 5, snap(4, 1)), 4, 1],
      [unstable([e(5, 1)], 5, snap(4, 1)), 3, undefined],
      [unstable([], 5, snap(4, 1)), 5, undefined],
      [unstable([], 5, snap(4, 1)), 4, 1],
      [unstable([], 0), 5, undefined],
    ];
    for (const [u, index, want] of cases) expect(u.maybeTerm(index)).toBe(want);
  });

  it('restore replaces everything with the snapshot', () => {
    const u = unstable([e(5, 1)], 5, snap(4, 1));
    const s = snap(6, 2);
    u.restore(s);
    expect(u.offset).toBe(7);
    expect(u.entries).toEqual([]);
    expect(u.snapshot).toBe(s);
  });

  it('stableTo drops persisted entries, unless their term changed', () => {
    const cases: [Unstable, number, number, number, number][] = [
      [unstable([], 0), 5, 1, 0, 0],
      [unstable([e(5, 1)], 5), 5, 1, 6, 0], // stable to the first entry
      [unstable([e(5, 1), e(6, 1)], 5), 5, 1, 6, 1],
      [unstable([e(6, 2)], 6), 6, 1, 6, 1], // term mismatch: nothing
      [unstable([e(5, 1)], 5), 4, 1, 5, 1], // old index
      [unstable([e(5, 1)], 5), 4, 2, 5, 1],
      [unstable([e(5, 1)], 5, snap(4, 1)), 5, 1, 6, 0], // with a snapshot
      [unstable([e(5, 1), e(6, 1)], 5, snap(4, 1)), 5, 1, 6, 1],
      [unstable([e(6, 2)], 6, snap(5, 1)), 6, 1, 6, 1],
      [unstable([e(5, 1)], 5, snap(4, 1)), 4, 1, 5, 1], // the snapshot's index is not an entry
      [unstable([e(5, 2)], 5, snap(4, 2)), 4, 1, 5, 1],
    ];
    for (const [u, index, term, woffset, wlen] of cases) {
      u.stableTo(index, term);
      expect(u.offset).toBe(woffset);
      expect(u.entries.length).toBe(wlen);
    }
  });

  it('truncateAndAppend appends, replaces, or truncates then appends', () => {
    const cases: [Entry[], number, Entry[], number, Entry[]][] = [
      [[e(5, 1)], 5, [e(6, 1), e(7, 1)], 5, [e(5, 1), e(6, 1), e(7, 1)]], // append
      [[e(5, 1)], 5, [e(5, 2), e(6, 2)], 5, [e(5, 2), e(6, 2)]], // replace
      [[e(5, 1)], 5, [e(4, 2), e(5, 2), e(6, 2)], 4, [e(4, 2), e(5, 2), e(6, 2)]],
      [[e(5, 1), e(6, 1), e(7, 1)], 5, [e(6, 2)], 5, [e(5, 1), e(6, 2)]], // truncate, append
      [[e(5, 1), e(6, 1), e(7, 1)], 5, [e(7, 2), e(8, 2)], 5, [e(5, 1), e(6, 1), e(7, 2), e(8, 2)]],
    ];
    for (const [ents, offset, toappend, woffset, wentries] of cases) {
      const u = unstable(ents, offset);
      u.truncateAndAppend(toappend);
      expect(u.offset).toBe(woffset);
      expect(u.entries).toEqual(wentries);
    }
  });

  it('never modifies an array it handed out', () => {
    const u = unstable([], 1);
    u.truncateAndAppend([e(1, 1)]);
    const handed = u.handOut();
    u.truncateAndAppend([e(2, 1)]);
    expect(handed).toEqual([e(1, 1)]);
    const msgEntries = [e(3, 1)];
    u.truncateAndAppend(msgEntries);
    u.truncateAndAppend([e(4, 1)]);
    expect(msgEntries).toEqual([e(3, 1)]);
    expect(u.entries.map((x) => x.index)).toEqual([1, 2, 3, 4]);
  });
});

import { describe, expect, it } from 'vitest';
import { entrySize } from './codec.js';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.js';
import { RaftPanic } from './logger.js';
import { type Entry, newConfState, newEntry } from './raftpb.js';
import { MemoryStorage } from './storage.js';
import { NO_LIMIT } from './util.js';

function storageWith(ents: Entry[]): MemoryStorage {
  // Build a storage whose first (dummy) entry is ents[0].
  const s = new MemoryStorage();
  const first = ents[0]!;
  if (first.index > 0) {
    s.applySnapshot({
      data: new Uint8Array(0),
      metadata: { index: first.index, term: first.term, confState: newConfState() },
    });
  }
  s.append(ents.slice(1));
  return s;
}
const e = (index: number, term: number) => newEntry({ index, term });

describe('MemoryStorage', () => {
  const ents = [e(3, 3), e(4, 4), e(5, 5)];

  it('term', () => {
    const s = storageWith(ents);
    expect(() => s.term(2)).toThrow(ErrCompacted);
    expect(s.term(3)).toBe(3);
    expect(s.term(4)).toBe(4);
    expect(s.term(5)).toBe(5);
    expect(() => s.term(6)).toThrow(ErrUnavailable);
  });

  it('entries, limited by size but never empty', () => {
    const s = storageWith([...ents, e(6, 6)]);
    expect(() => s.entries(2, 6, NO_LIMIT)).toThrow(ErrCompacted);
    expect(() => s.entries(3, 4, NO_LIMIT)).toThrow(ErrCompacted);
    expect(s.entries(4, 5, NO_LIMIT)).toEqual([e(4, 4)]);
    expect(s.entries(4, 6, NO_LIMIT)).toEqual([e(4, 4), e(5, 5)]);
    expect(s.entries(4, 7, 0)).toEqual([e(4, 4)]);
    const two = entrySize(e(4, 4)) + entrySize(e(5, 5));
    expect(s.entries(4, 7, two)).toEqual([e(4, 4), e(5, 5)]);
    expect(s.entries(4, 7, two + entrySize(e(6, 6)) - 1)).toEqual([e(4, 4), e(5, 5)]);
    expect(s.entries(4, 7, two + entrySize(e(6, 6)))).toEqual([e(4, 4), e(5, 5), e(6, 6)]);
    expect(() => s.entries(4, 8, NO_LIMIT)).toThrow(RaftPanic);
  });

  it('first and last index', () => {
    const s = storageWith(ents);
    expect(s.firstIndex()).toBe(4);
    expect(s.lastIndex()).toBe(5);
    s.append([e(6, 5)]);
    expect(s.lastIndex()).toBe(6);
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
  });

  it('compact', () => {
    for (const [i, werr, windex, wterm, wlen] of [
      [2, ErrCompacted, 3, 3, 3],
      [3, ErrCompacted, 3, 3, 3],
      [4, undefined, 4, 4, 2],
      [5, undefined, 5, 5, 1],
    ] as const) {
      const s = storageWith(ents);
      if (werr) expect(() => s.compact(i)).toThrow(werr);
      else s.compact(i);
      expect(s.firstIndex() - 1).toBe(windex);
      expect(s.term(windex)).toBe(wterm);
      expect(s.lastIndex() - s.firstIndex() + 2).toBe(wlen);
    }
  });

  it('createSnapshot', () => {
    const cs = newConfState({ voters: [1n, 2n, 3n] });
    const data = new Uint8Array([1, 2]);
    const s = storageWith(ents);
    const snap = s.createSnapshot(4, cs, data);
    expect(snap.metadata).toEqual({ index: 4, term: 4, confState: cs });
    expect(() => s.createSnapshot(4, cs, data)).toThrow(ErrSnapOutOfDate);
    expect(s.createSnapshot(5, undefined, data).metadata.confState).toEqual(cs);
  });

  it('append replaces conflicting suffixes and ignores compacted entries', () => {
    const cases: [Entry[], Entry[] | 'panic'][] = [
      [
        [e(1, 1), e(2, 2)],
        [e(3, 3), e(4, 4), e(5, 5)],
      ],
      [
        [e(3, 3), e(4, 4), e(5, 5)],
        [e(3, 3), e(4, 4), e(5, 5)],
      ],
      [
        [e(3, 3), e(4, 6), e(5, 6)],
        [e(3, 3), e(4, 6), e(5, 6)],
      ],
      [
        [e(3, 3), e(4, 4), e(5, 5), e(6, 5)],
        [e(3, 3), e(4, 4), e(5, 5), e(6, 5)],
      ],
      [
        [e(2, 3), e(3, 3), e(4, 5)],
        [e(3, 3), e(4, 5)],
      ],
      [[e(4, 5)], [e(3, 3), e(4, 5)]],
      [[e(6, 5)], [e(3, 3), e(4, 4), e(5, 5), e(6, 5)]],
      [[e(7, 5)], 'panic'],
    ];
    for (const [app, want] of cases) {
      const s = storageWith(ents);
      if (want === 'panic') {
        expect(() => s.append(app)).toThrow(RaftPanic);
        continue;
      }
      s.append(app);
      const got = [e(s.firstIndex() - 1, s.term(s.firstIndex() - 1))];
      if (s.lastIndex() >= s.firstIndex())
        got.push(...s.entries(s.firstIndex(), s.lastIndex() + 1, NO_LIMIT));
      expect(got).toEqual(want);
    }
  });

  it('applySnapshot refuses an older snapshot', () => {
    const cs = newConfState({ voters: [1n, 2n, 3n] });
    const s = new MemoryStorage();
    s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 4, term: 4, confState: cs } });
    expect(s.firstIndex()).toBe(5);
    expect(s.initialState().confState).toEqual(cs);
    expect(() =>
      s.applySnapshot({ data: new Uint8Array(0), metadata: { index: 3, term: 3, confState: cs } }),
    ).toThrow(ErrSnapOutOfDate);
  });
});

describe('MemoryStorage chunks', () => {
  it('agrees with a plain array model under random appends, truncations and compactions', () => {
    let seed = 99;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const s = new MemoryStorage();
      let model: Entry[] = []; // entries after the compaction point
      let snapIndex = 0;
      let term = 1;
      const given: [Entry[], Entry[]][] = [];
      for (let step = 0; step < 200; step++) {
        const last = snapIndex + model.length;
        const op = rnd(10);
        if (op < 7) {
          // Append a batch, possibly overwriting a suffix.
          const at = Math.max(snapIndex + 1, last + 1 - rnd(Math.min(model.length, 10) + 1));
          if (rnd(3) === 0) term++;
          const n = rnd(3) === 0 ? 65 + rnd(100) : 1 + rnd(8);
          const batch = Array.from({ length: n }, (_, k) => e(at + k, term));
          const handed = batch.slice();
          s.append(batch);
          model = model.slice(0, at - snapIndex - 1).concat(handed);
          given.push([batch, handed]);
        } else if (op < 9 && model.length > 0) {
          const c = snapIndex + 1 + rnd(model.length);
          s.compact(c);
          model = model.slice(c - snapIndex);
          snapIndex = c;
        } else if (model.length > 0) {
          const lo = snapIndex + 1 + rnd(model.length);
          const hi = lo + rnd(snapIndex + model.length + 1 - lo) + 1;
          expect(s.entries(lo, hi, NO_LIMIT)).toEqual(
            model.slice(lo - snapIndex - 1, hi - snapIndex - 1),
          );
        }
        expect(s.firstIndex()).toBe(snapIndex + 1);
        expect(s.lastIndex()).toBe(snapIndex + model.length);
        if (model.length > 0) {
          const i = snapIndex + 1 + rnd(model.length);
          expect(s.term(i)).toBe(model[i - snapIndex - 1]!.term);
        }
      }
      // The arrays given to append were never modified by storage.
      for (const [batch, copy] of given) expect(batch).toEqual(copy);
    }
  });
});

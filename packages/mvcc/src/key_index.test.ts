import { describe, expect, it } from 'vitest';
import { rng, testSeed } from '../test/util.js';
import { KeyIndex } from './key_index.js';
import { sortOrdinals } from './key_table.js';
import { RunSorter } from './restore_order.js';
import { revSetKey } from './revision.js';
import { TreeIndex } from './tree_index.js';

// foo: put 2, put 4, delete 6, put 8, put 10, delete 12, put 14.0, put 14.1, delete 16.
function threeLives(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(2, 0);
  ki.put(4, 0);
  ki.tombstone(6, 0);
  ki.put(8, 0);
  ki.put(10, 0);
  ki.tombstone(12, 0);
  ki.put(14, 0);
  ki.put(14, 1);
  ki.tombstone(16, 0);
  return ki;
}

function revsOf(ki: KeyIndex): string[][] {
  return ki.generations().map((g) => {
    const out: string[] = [];
    for (let i = 0; i < g.revs.length; i += 2) out.push(`${g.revs[i]}.${g.revs[i + 1]}`);
    return out;
  });
}

describe('KeyIndex', () => {
  it('groups revisions into generations closed by tombstones', () => {
    const ki = threeLives();
    expect(revsOf(ki)).toEqual([
      ['2.0', '4.0', '6.0'],
      ['8.0', '10.0', '12.0'],
      ['14.0', '14.1', '16.0'],
      [],
    ]);
    expect(ki.deleted).toBe(true);
    expect(ki.modified()).toEqual([16, 0]);
  });

  it('gets the revision visible at each revision, with created and version', () => {
    const ki = threeLives();
    const at = (rev: number) => {
      const g = ki.get(rev);
      return g === undefined ? undefined : [`${g.modMain}.${g.modSub}`, g.createdMain, g.ver];
    };
    expect(at(1)).toBeUndefined();
    expect(at(2)).toEqual(['2.0', 2, 1]);
    expect(at(5)).toEqual(['4.0', 2, 2]);
    expect(at(6)).toBeUndefined();
    expect(at(7)).toBeUndefined();
    expect(at(9)).toEqual(['8.0', 8, 1]);
    expect(at(11)).toEqual(['10.0', 8, 2]);
    expect(at(12)).toBeUndefined();
    expect(at(14)).toEqual(['14.1', 14, 2]);
    expect(at(15)).toEqual(['14.1', 14, 2]);
    expect(at(16)).toBeUndefined();
    expect(at(100)).toBeUndefined();
  });

  it('refuses a put that is not newer, and a tombstone of a deleted key', () => {
    const ki = new KeyIndex('k');
    ki.put(5, 0);
    expect(() => ki.put(5, 0)).toThrow(/smaller revision/);
    expect(() => ki.put(4, 9)).toThrow(/smaller revision/);
    ki.tombstone(6, 0);
    expect(() => ki.tombstone(7, 0)).toThrow(/revision not found/);
    expect(() => new KeyIndex('x').tombstone(1, 0)).toThrow(/empty keyIndex/);
  });

  it('compacts as etcd does: keeps what reads at or after the compact revision need', () => {
    const ki = threeLives();
    const cases: Array<[number, string[][], string[]]> = [
      [1, revsOf(ki), []],
      [2, revsOf(ki), ['2.0']],
      [4, [['4.0', '6.0'], ['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['4.0']],
      [6, [['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], []],
      [11, [['10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['10.0']],
      [12, [['14.0', '14.1', '16.0'], []], []],
      [14, [['14.1', '16.0'], []], ['14.1']],
      [16, [[]], []],
    ];
    for (const [rev, gens, avail] of cases) {
      const fresh = threeLives();
      const kept = new Set<number | string>();
      fresh.keep(rev, kept);
      const available = new Set<number | string>();
      fresh.compact(rev, available);
      expect(revsOf(fresh), `compact ${rev}`).toEqual(gens);
      const want = new Set(
        avail.map((r) => revSetKey(Number(r.split('.')[0]), Number(r.split('.')[1]))),
      );
      expect(available, `available ${rev}`).toEqual(want);
      expect(kept, `keep ${rev}`).toEqual(want);
    }
    const gone = threeLives();
    gone.compact(16, new Set());
    expect(gone.isEmpty()).toBe(true);
  });

  it('answers every read at or after the compact revision as before compaction', () => {
    for (let c = 1; c <= 17; c++) {
      const before = threeLives();
      const after = threeLives();
      if (!after.isEmpty()) after.compact(c, new Set());
      for (let r = c; r <= 18; r++) {
        expect(after.isEmpty() ? undefined : after.get(r), `compact ${c} read ${r}`).toEqual(
          before.get(r),
        );
      }
    }
  });

  it('restores a generation from one stored revision', () => {
    const ki = new KeyIndex('k');
    ki.restore(3, 9, 1, 4);
    expect(ki.get(9)).toEqual({ modMain: 9, modSub: 1, createdMain: 3, ver: 4 });
    ki.put(10, 0);
    expect(ki.get(10)?.ver).toBe(5);
  });
});

describe('TreeIndex', () => {
  function fill(): TreeIndex {
    const t = new TreeIndex();
    t.put('a', 1, 0);
    t.put('b', 2, 0);
    t.put('c', 3, 0);
    t.put('b', 4, 0);
    t.tombstone('a', 5, 0);
    t.put('d', 6, 0);
    return t;
  }

  it('ranges a key, a half-open range and everything from a key, at any revision', () => {
    const t = fill();
    const keys = (k: string, end: string | undefined, rev: number, limit = 0) =>
      t.revisions(k, end, rev, limit).hits.map((h) => `${h.key}@${h.modMain}`);
    expect(keys('b', undefined, 6)).toEqual(['b@4']);
    expect(keys('b', undefined, 3)).toEqual(['b@2']);
    expect(keys('a', 'c', 6)).toEqual(['b@4']);
    expect(keys('a', 'c', 4)).toEqual(['a@1', 'b@4']);
    expect(keys('a', '', 6)).toEqual(['b@4', 'c@3', 'd@6']);
    expect(keys('c', 'a', 6)).toEqual([]);
    expect(keys('a', '', 6, 2)).toEqual(['b@4', 'c@3']);
    expect(t.revisions('a', '', 6, 2).total).toBe(3);
    expect(t.countRevisions('\u0000', '', 4)).toBe(3);
  });

  it('compaction forgets keys with no revision left and reports what stays', () => {
    const t = fill();
    const keep = t.keep(5);
    const available = t.compact(5);
    expect(available).toEqual(keep);
    expect([...t.all()].map((k) => k.key)).toEqual(['b', 'c', 'd']);
    expect(available).toEqual(new Set([revSetKey(4, 0), revSetKey(3, 0)]));
  });

  it('keeps a one-revision key as table numbers only, and its generations from the second change until compaction leaves one revision', () => {
    const t = new TreeIndex();
    const objectOf = (key: string) => {
      const table = (
        t as unknown as { byKey: { findString(k: string): number; at(o: number): unknown } }
      ).byKey;
      return table.at(table.findString(key));
    };
    t.put('k', 2, 0);
    expect(objectOf('k')).toBeNull();
    expect(t.get('k', 1)).toBeUndefined();
    expect(t.get('k', 5)).toEqual({ modMain: 2, modSub: 0, createdMain: 2, ver: 1 });
    t.put('k', 3, 1);
    expect(objectOf('k')).not.toBeNull();
    expect(t.get('k', 2)).toEqual({ modMain: 2, modSub: 0, createdMain: 2, ver: 1 });
    expect(t.get('k', 3)).toEqual({ modMain: 3, modSub: 1, createdMain: 2, ver: 2 });
    expect(t.compact(3)).toEqual(new Set([revSetKey(3, 1)]));
    expect(objectOf('k')).toBeNull();
    expect(t.get('k', 3)).toEqual({ modMain: 3, modSub: 1, createdMain: 2, ver: 2 });
    const o = t.lookup(Buffer.from('k'));
    expect([t.lastMain(o), t.lastSub(o), t.createdMain(o), t.ver(o)]).toEqual([3, 1, 2, 2]);
    t.tombstone('k', 4, 0);
    expect(t.lastMain(o)).toBe(0);
    expect(t.get('k', 4)).toBeUndefined();
    expect(t.get('k', 3)?.modMain).toBe(3);
    t.compact(4);
    expect(t.size).toBe(0);
    expect(t.lookup(Buffer.from('k'))).toBe(-1);
  });

  it('bulk-loads in an order computed elsewhere, and sorts by itself when that order is wrong', () => {
    const r = rng(testSeed('tree index bulk load'));
    const keys = new Set<string>();
    // Binary keys, some prefixes of others, with 0x00 and 0xff bytes.
    while (keys.size < 500) {
      let k = '';
      const len = 1 + Math.floor(r() * 5);
      for (let i = 0; i < len; i++)
        k += String.fromCharCode([0x00, 0x41, 0x7f, 0x80, 0xff][Math.floor(r() * 5)]!);
      keys.add(k);
    }
    const load = (): TreeIndex => {
      const t = new TreeIndex();
      t.beginBulkLoad();
      let rev = 2;
      for (const k of keys) t.insertNew(Buffer.from(k, 'latin1'), 0, k.length, rev, 0, rev++, 1);
      return t;
    };
    const sorted = [...keys].sort();

    // What the ordering thread does: sorts the keys as they come, in batches (runs), and
    // merges the runs at the end.
    const t = load();
    const sorter = new RunSorter();
    for (let from = 0; from < keys.size; from += 97) {
      const { bytes, offsets } = t.sharedKeys(from, Math.min(keys.size, from + 97));
      sorter.add(from, bytes, offsets);
    }
    expect(() => sorter.finish(keys.size + 1)).toThrow(/500 keys of 501/);
    const order = sorter.finish(keys.size);
    const byOrdinal = [...keys];
    expect([...order].map((o) => byOrdinal[o]!)).toEqual(sorted);
    expect(t.endBulkLoad(() => order)).toBe(true);
    expect([...t.all()].map((ki) => ki.key)).toEqual(sorted);
    expect(sortOrdinals(byOrdinal)).toEqual(order);

    const wrong = load();
    expect(wrong.endBulkLoad((ks) => Int32Array.from(ks.keys()))).toBe(false);
    expect([...wrong.all()].map((ki) => ki.key)).toEqual(sorted);
    const failing = load();
    expect(
      failing.endBulkLoad(() => {
        throw new Error('thread gone');
      }),
    ).toBe(false);
    expect(failing.revisions('', '', 1000).hits.map((h) => h.key)).toEqual(sorted);
  });

  it('moves its keys to a smaller table when compaction has forgotten most of them', () => {
    const t = new TreeIndex();
    const ordinals = () => (t as unknown as { byKey: { ordinals: number } }).byKey.ordinals;
    const key = (i: number) => `k${String(i).padStart(6, '0')}`;
    let rev = 2;
    for (let i = 0; i < 100_000; i++) t.put(key(i), rev++, 0);
    t.put(key(7), rev++, 0); // a key with history keeps its KeyIndex through the move
    for (let i = 0; i < 100_000; i++) if (i % 100 !== 7) t.tombstone(key(i), rev++, 0);
    expect(ordinals()).toBe(100_000);
    t.compact(rev);
    expect(t.size).toBe(1000);
    expect(ordinals()).toBe(1000);
    expect(t.get(key(7), rev)).toEqual({ modMain: 100_002, modSub: 0, createdMain: 9, ver: 2 });
    expect(t.get(key(107), rev)?.modMain).toBe(109);
    expect(t.get(key(8), rev)).toBeUndefined();
    const o = t.lookup(Buffer.from(key(99_907), 'latin1'));
    expect(t.lastMain(o)).toBe(99_909);
    const { hits, total } = t.revisions(key(0), '', rev, 3);
    expect(total).toBe(1000);
    expect(hits.map((h) => h.key)).toEqual([key(7), key(107), key(207)]);
    // And it goes on working as before.
    t.put(key(8), rev, 0);
    expect(t.revisions(key(7), key(108), rev).hits.map((h) => h.key)).toEqual([
      key(7),
      key(8),
      key(107),
    ]);
  });
});

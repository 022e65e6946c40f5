import { expect, it } from 'vitest';
import { rng, testSeed } from '../test/util.js';
import { IntervalTree } from './interval_tree.js';

it('stabs exactly the intervals that contain a point, through random inserts and deletes', () => {
  const seed = testSeed('interval tree');
  const r = rng(seed);
  const tree = new IntervalTree<string>();
  const live = new Map<string, [string, string]>();
  const key = () =>
    String.fromCharCode(97 + Math.floor(r() * 12)) +
    (r() < 0.5 ? String.fromCharCode(97 + Math.floor(r() * 3)) : '');
  for (let i = 0; i < 3000; i++) {
    if (r() < 0.6 || live.size === 0) {
      const a = key();
      const e = r() < 0.15 ? '' : key();
      if (e !== '' && e <= a) continue;
      const id = `${a}|${e}`;
      if (live.has(id)) {
        expect(tree.find(a, e)).toBe(id);
        continue;
      }
      tree.insert(a, e, id);
      live.set(id, [a, e]);
    } else {
      const ids = [...live.keys()];
      const id = ids[Math.floor(r() * ids.length)]!;
      const [a, e] = live.get(id)!;
      expect(tree.delete(a, e)).toBe(true);
      expect(tree.delete(a, e)).toBe(false);
      live.delete(id);
    }
    expect(tree.size).toBe(live.size);
    const p = key();
    const got: string[] = [];
    tree.stab(p, (v) => got.push(v));
    const want = [...live].filter(([, [a, e]]) => a <= p && (e === '' || p < e)).map(([id]) => id);
    expect(got.sort(), `seed ${seed} step ${i} point ${p}`).toEqual(want.sort());
    expect(tree.intersects(p)).toBe(want.length > 0);
  }
});

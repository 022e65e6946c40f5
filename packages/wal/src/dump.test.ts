import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { dumpWal, WAL } from './index.js';
import { entries, withTempDir } from './testutil.js';

describe('wal-dump', () => {
  it('prints every record, the final hard state and entry counts', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'member', 'wal');
      const w = await WAL.create(dir, new Uint8Array([0xab]), { segmentSizeBytes: 4096 });
      await w.save({ term: 3, vote: 0x8e9e05c52164694dn, commit: 2 }, entries(1, 2, 3));
      await w.saveSnapshot({ index: 2, term: 3 });
      await w.close();
      const text = await dumpWal(dir);
      expect(text).toContain('metadata  ab');
      expect(text).toMatch(/entry {5}term=3 index=1 type=norm data="e1"/);
      expect(text).toMatch(/state {5}term=3 vote=8e9e05c52164694d commit=2/);
      expect(text).toMatch(/snapshot {2}term=3 index=2/);
      expect(text).toContain('hard state: term=3 vote=8e9e05c52164694d commit=2');
      expect(text).toContain('last index: 2');
      expect(text).toContain('entries: norm=2');

      let printed = '';
      expect(await main([root], (s) => (printed += s))).toBe(0);
      expect(printed).toBe(text);
      expect(await main([], () => {})).toBe(2);
      expect(await main([join(root, 'missing')], () => {})).toBe(1);
    });
  });
});

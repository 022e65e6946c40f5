import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ErrFileNotFound,
  ErrLocked,
  ErrSnapshotMismatch,
  ErrSnapshotNotFound,
  purgeSegments,
  validSnapshotEntries,
  verify,
  WAL,
  WalError,
  walName,
} from './index.js';
import { entries, entry, withTempDir } from './testutil.js';

const SEG = 4096;
const meta = new TextEncoder().encode('metadata');

async function reopen(dir: string, snap = { index: 0, term: 0 }) {
  const w = await WAL.open(dir, snap, { segmentSizeBytes: SEG });
  const all = await w.readAll();
  return { w, ...all };
}

describe('WAL', () => {
  it('names segments %016x-%016x.wal', () => {
    expect(walName(1, 0x1f)).toBe('0000000000000001-000000000000001f.wal');
  });

  it('creates a WAL that reads back its metadata and nothing else', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      await w.close();
      expect(existsSync(`${dir}.tmp`)).toBe(false);
      expect(await readdir(dir)).toContain(walName(0, 0));
      const { w: r, metadata, state, entries: ents } = await reopen(dir);
      expect(Buffer.from(metadata).toString()).toBe('metadata');
      expect(state).toEqual({ term: 0, vote: 0n, commit: 0 });
      expect(ents).toEqual([]);
      await r.close();
      await expect(WAL.create(dir, meta)).rejects.toThrow(/already holds a WAL/);
    });
  });

  it('round-trips entries and hard states across many segment cuts', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      const saved = entries(1, 300, 1, 100);
      for (let i = 0; i < saved.length; i += 7) {
        const batch = saved.slice(i, i + 7);
        await w.save({ term: 1, vote: 0xffffffffffffffffn, commit: batch.at(-1)!.index }, batch);
      }
      await w.close();
      const names = (await readdir(dir)).filter((n) => n.endsWith('.wal'));
      expect(names.length).toBeGreaterThan(5);
      // Each segment is named after the first entry it holds.
      const { w: r, state, entries: ents } = await reopen(dir);
      expect(ents).toEqual(saved);
      expect(state).toEqual({ term: 1, vote: 0xffffffffffffffffn, commit: 300 });
      await r.close();
      expect((await verify(dir)).entries).toBe(300);
    });
  });

  it('replaces a conflicting tail: later entries at an index win', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      await w.save({ term: 1, vote: 1n, commit: 1 }, entries(1, 10, 1));
      // A new leader at term 2 overwrites from index 6.
      await w.save({ term: 2, vote: 2n, commit: 5 }, entries(6, 8, 2));
      await w.close();
      const { w: r, entries: ents, state } = await reopen(dir);
      expect(ents).toEqual([...entries(1, 5, 1), ...entries(6, 8, 2)]);
      expect(state).toEqual({ term: 2, vote: 2n, commit: 5 });
      // Appending after reopen continues the chain.
      await r.save({ term: 2, vote: 2n, commit: 9 }, [entry(9, 2)]);
      await r.close();
      const again = await reopen(dir);
      expect(again.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      await again.w.close();
    });
  });

  it('opens at a snapshot marker and returns only the entries after it', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      await w.save({ term: 1, vote: 1n, commit: 60 }, entries(1, 60, 1, 80));
      await w.saveSnapshot({ index: 50, term: 1 });
      await w.save({ term: 1, vote: 1n, commit: 70 }, entries(61, 70, 1, 80));
      await w.close();

      const { w: r, entries: ents } = await reopen(dir, { index: 50, term: 1 });
      expect(ents.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => 51 + i));
      await r.close();

      const wrongTerm = await WAL.open(dir, { index: 50, term: 2 });
      await expect(wrongTerm.readAll()).rejects.toBeInstanceOf(ErrSnapshotMismatch);
      await wrongTerm.close();
      const unknown = await WAL.open(dir, { index: 40, term: 1 });
      await expect(unknown.readAll()).rejects.toBeInstanceOf(ErrSnapshotNotFound);
      await unknown.close();

      expect(await validSnapshotEntries(dir)).toEqual([
        { index: 0, term: 0 },
        { index: 50, term: 1 },
      ]);
    });
  });

  it('refuses a second writer while the first holds the lock', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      await expect(WAL.open(dir, { index: 0, term: 0 })).rejects.toBeInstanceOf(ErrLocked);
      await w.close();
      const second = await WAL.open(dir, { index: 0, term: 0 });
      await second.close();
    });
  });

  it('releaseLockTo lets old segments be purged, never the ones still in use', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, meta, { segmentSizeBytes: SEG });
      for (let i = 1; i <= 200; i += 10) {
        await w.save({ term: 1, vote: 1n, commit: i + 9 }, entries(i, i + 9, 1, 120));
      }
      const before = w.lockedSegments();
      expect(before.length).toBeGreaterThan(4);
      // Everything is locked: nothing can be purged.
      expect(await purgeSegments(dir, 1)).toEqual([]);
      await w.saveSnapshot({ index: 150, term: 1 });
      await w.releaseLockTo(150);
      const kept = w.lockedSegments();
      expect(kept.length).toBeLessThan(before.length);
      const removed = await purgeSegments(dir, 1);
      expect(removed).toEqual(before.slice(0, before.length - kept.length));
      await w.close();
      // The log still opens at the snapshot and holds every entry after it.
      const { w: r, entries: ents } = await reopen(dir, { index: 150, term: 1 });
      expect(ents.map((e) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => 151 + i));
      await r.close();
    });
  });

  it('reports a missing directory and refuses writes before readAll or after close', async () => {
    await withTempDir(async (root) => {
      await expect(WAL.open(join(root, 'none'), { index: 0, term: 0 })).rejects.toBeInstanceOf(
        ErrFileNotFound,
      );
      const dir = join(root, 'wal');
      await (await WAL.create(dir, meta, { segmentSizeBytes: SEG })).close();
      const w = await WAL.open(dir, { index: 0, term: 0 }, { segmentSizeBytes: SEG });
      await expect(w.save({ term: 1, vote: 0n, commit: 0 }, [])).rejects.toThrow(/readAll/);
      await w.readAll();
      await w.close();
      await expect(w.save({ term: 1, vote: 0n, commit: 0 }, [])).rejects.toBeInstanceOf(WalError);
    });
  });
});

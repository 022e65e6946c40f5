import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Snapshot } from '@etcd-ts/raft';
import { describe, expect, it } from 'vitest';
import {
  ErrEmptySnapshot,
  ErrNoSnapshot,
  ErrSnapCRCMismatch,
  Snapshotter,
  snapName,
} from '../index.js';
import { withTempDir } from '../testutil.js';

function snap(term: number, index: number, data = `state@${index}`): Snapshot {
  return {
    data: new Uint8Array(Buffer.from(data)),
    metadata: {
      term,
      index,
      confState: {
        voters: [1n, 2n, 0xffffffffffffffffn],
        learners: [4n],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
  };
}

describe('Snapshotter', () => {
  it('names files %016x-%016x.snap by term and index', () => {
    expect(snapName(2, 0x10)).toBe('0000000000000002-0000000000000010.snap');
  });

  it('saves and loads the newest snapshot', async () => {
    await withTempDir(async (dir) => {
      const s = new Snapshotter(dir);
      await expect(s.load()).rejects.toBeInstanceOf(ErrNoSnapshot);
      await s.saveSnap(snap(1, 10));
      await s.saveSnap(snap(2, 20));
      await s.saveSnap(snap(2, 15));
      const got = await s.load();
      expect(got.metadata.index).toBe(20);
      expect(got.metadata.confState.voters).toEqual([1n, 2n, 0xffffffffffffffffn]);
      expect(Buffer.from(got.data).toString()).toBe('state@20');
      expect(
        await s.loadNewestAvailable([
          { index: 15, term: 2 },
          { index: 10, term: 1 },
        ]),
      ).toMatchObject({
        metadata: { index: 15 },
      });
      await expect(s.loadNewestAvailable([{ index: 15, term: 3 }])).rejects.toBeInstanceOf(
        ErrNoSnapshot,
      );
      // No temporary files are left behind.
      expect((await readdir(dir)).every((n) => n.endsWith('.snap'))).toBe(true);
    });
  });

  it('skips a corrupt newest snapshot, renaming it .broken', async () => {
    await withTempDir(async (dir) => {
      const s = new Snapshotter(dir);
      await s.saveSnap(snap(1, 10));
      await s.saveSnap(snap(1, 20));
      const newest = join(dir, snapName(1, 20));
      const bytes = await readFile(newest);
      bytes[bytes.length - 2]! ^= 0xff;
      await writeFile(newest, bytes);
      await expect(s.read(snapName(1, 20))).rejects.toBeInstanceOf(ErrSnapCRCMismatch);
      const got = await s.load();
      expect(got.metadata.index).toBe(10);
      expect(existsSync(`${newest}.broken`)).toBe(true);
      await writeFile(join(dir, snapName(1, 30)), '');
      await expect(s.read(snapName(1, 30))).rejects.toBeInstanceOf(ErrEmptySnapshot);
      expect((await s.load()).metadata.index).toBe(10);
    });
  });

  it('purges all but the newest N', async () => {
    await withTempDir(async (dir) => {
      const s = new Snapshotter(dir);
      for (let i = 1; i <= 5; i++) await s.saveSnap(snap(1, i * 10));
      expect(await s.purge(2)).toEqual([snapName(1, 30), snapName(1, 20), snapName(1, 10)]);
      expect(await s.snapNames()).toEqual([snapName(1, 50), snapName(1, 40)]);
    });
  });

  it('stores a received backend database durably', async () => {
    await withTempDir(async (dir) => {
      const s = new Snapshotter(dir);
      const size = await s.saveDBFrom(
        Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(24, 2)]),
        0x2a,
      );
      expect(size).toBe(1024);
      expect(s.dbFilePath(0x2a)).toBe(join(dir, '000000000000002a.snap.db'));
      expect((await readFile(s.dbFilePath(0x2a))).length).toBe(1024);
    });
  });
});

// Crash consistency: a WAL whose last segment was cut short at any byte (a process or
// power failure mid-write) opens and returns exactly the records that were fully written;
// damage with valid records after it is reported as corruption, never repaired.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState } from '@etcd-ts/raft';
import { decodeEntry, decodeHardState } from '@etcd-ts/raft';
import { describe, expect, it } from 'vitest';
import { readFrame } from './frame.js';
import { ErrCorrupt, WAL, WalError } from './index.js';
import { RecordType } from './record.js';
import { entries, withTempDir } from './testutil.js';

const SEG = 64 * 1024;

interface Frame {
  start: number;
  end: number;
  type: number;
  entry?: Entry;
  state?: HardState;
}

function framesOf(buf: Uint8Array): Frame[] {
  const out: Frame[] = [];
  let off = 0;
  for (;;) {
    const f = readFrame(buf, off, buf.length);
    if (f.kind !== 'record') break;
    const fr: Frame = { start: off, end: f.next, type: f.record.type };
    if (f.record.type === RecordType.entry) {
      const e = decodeEntry(f.record.data!);
      fr.entry = { ...e, data: new Uint8Array(e.data) };
    }
    if (f.record.type === RecordType.state) fr.state = decodeHardState(f.record.data!);
    out.push(fr);
    off = f.next;
  }
  return out;
}

async function buildWal(dir: string): Promise<void> {
  const w = await WAL.create(dir, new TextEncoder().encode('m'), { segmentSizeBytes: SEG });
  let index = 1;
  // Batches of different sizes so records of many lengths and paddings end the log.
  for (const n of [3, 1, 5, 2, 1, 4, 1, 1, 3]) {
    const batch = entries(index, index + n - 1, 1, 20 + index * 3);
    index += n;
    await w.save({ term: 1, vote: 7n, commit: index - 1 }, batch);
  }
  await w.close();
}

describe('torn tail repair', () => {
  it('returns exactly the fully written records for every truncation point', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      await buildWal(dir);
      const [name] = (await readdir(dir)).filter((n) => n.endsWith('.wal'));
      const path = join(dir, name!);
      const original = await readFile(path);
      const frames = framesOf(original);
      const written = frames.at(-1)!.end;
      // Every offset inside the last eight records, cut short and zero-filled alike.
      const from = frames.at(-8)!.start;
      let checked = 0;
      for (let cut = from; cut <= written; cut++) {
        for (const zeroFill of [false, true]) {
          const damaged = zeroFill
            ? Buffer.concat([original.subarray(0, cut), Buffer.alloc(original.length - cut)])
            : original.subarray(0, cut);
          await writeFile(path, damaged);
          // A record survives when all of its frame's bytes are intact (with a zero fill,
          // a cut inside its zero padding leaves it whole).
          const whole = frames.filter(
            (f) =>
              f.end <= damaged.length &&
              damaged.subarray(f.start, f.end).equals(original.subarray(f.start, f.end)),
          );
          const expectEntries = whole.flatMap((f) => (f.entry ? [f.entry] : []));
          const expectState = whole.findLast((f) => f.state)?.state;

          const w = await WAL.open(dir, { index: 0, term: 0 }, { segmentSizeBytes: SEG });
          const got = await w.readAll();
          expect(got.entries).toEqual(expectEntries);
          expect(got.state).toEqual(expectState);
          const lastEnd = whole.at(-1)!.end;
          const tornExpected = zeroFill
            ? damaged.subarray(lastEnd, cut).some((b) => b !== 0)
            : cut > lastEnd;
          expect(w.tornTail !== undefined, `cut at ${cut} zeroFill=${zeroFill}`).toBe(tornExpected);
          // The repaired WAL appends after the last whole record.
          if (cut % 61 === 0) {
            const next = (expectEntries.at(-1)?.index ?? 0) + 1;
            await w.save({ term: 2, vote: 7n, commit: next }, entries(next, next, 2));
            await w.close();
            const again = await WAL.open(dir, { index: 0, term: 0 }, { segmentSizeBytes: SEG });
            const after = await again.readAll();
            expect(after.entries).toEqual([...expectEntries, ...entries(next, next, 2)]);
            expect(again.tornTail).toBeUndefined();
            await again.close();
          } else {
            await w.close();
          }
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(400);
    });
  }, 120_000);
});

describe('corruption in the middle of the log', () => {
  it('every single-bit flip of a middle record is an error, never a silent misread', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      await buildWal(dir);
      const [name] = (await readdir(dir)).filter((n) => n.endsWith('.wal'));
      const path = join(dir, name!);
      const original = await readFile(path);
      const frames = framesOf(original);
      const victim = frames.find((f) => f.entry?.index === 5)!;
      let corrupt = 0;
      for (let byte = victim.start; byte < victim.end; byte++) {
        for (const bit of [0, 3, 7]) {
          const damaged = Buffer.from(original);
          damaged[byte]! ^= 1 << bit;
          await writeFile(path, damaged);
          const w = await WAL.openForRead(dir, { index: 0, term: 0 });
          const err = await w.readAll().then(
            () => undefined,
            (e: unknown) => e,
          );
          await w.close();
          expect(err, `flip of bit ${bit} at ${byte}`).toBeInstanceOf(WalError);
          if (err instanceof ErrCorrupt) {
            corrupt++;
            expect(err.file).toBe(path);
            expect(err.message).toMatch(new RegExp(`corrupt record in ${path} at offset \\d+`));
          }
        }
      }
      // Flips in the data are caught by the CRC at the victim's own offset.
      const dataByte = victim.end - 4;
      const damaged = Buffer.from(original);
      damaged[dataByte]! ^= 0x10;
      await writeFile(path, damaged);
      const w = await WAL.openForRead(dir, { index: 0, term: 0 });
      await expect(w.readAll()).rejects.toMatchObject({
        offset: victim.start,
        reason: 'crc mismatch',
      });
      await w.close();
      expect(corrupt).toBeGreaterThan(0);
    });
  });

  it('a damaged record before the last segment is corruption even with nothing after it', async () => {
    await withTempDir(async (root) => {
      const dir = join(root, 'wal');
      const w = await WAL.create(dir, new TextEncoder().encode('m'), { segmentSizeBytes: 4096 });
      for (let i = 1; i <= 120; i += 10) {
        await w.save({ term: 1, vote: 1n, commit: i + 9 }, entries(i, i + 9, 1, 100));
      }
      await w.close();
      const names = (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
      expect(names.length).toBeGreaterThan(2);
      const first = join(dir, names[0]!);
      const bytes = await readFile(first);
      const frames = framesOf(bytes);
      const last = frames.at(-1)!;
      bytes[last.end - 3]! ^= 1;
      await writeFile(first, bytes);
      const r = await WAL.openForRead(dir, { index: 0, term: 0 });
      await expect(r.readAll()).rejects.toBeInstanceOf(ErrCorrupt);
      await r.close();
    });
  });
});

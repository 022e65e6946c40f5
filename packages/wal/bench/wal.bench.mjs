// WAL append throughput: `pnpm --filter @etcd-ts/wal bench` (after `pnpm build`).
//
// 1 KiB entries in batches of 1, 10 and 100, one save (one write + one fdatasync) per
// batch, against the disk's own floor measured the same way: a positional write of the
// same number of bytes into a preallocated file followed by fdatasync. Then the same
// batches without fsync (unsafeNoFsync), where encoding and write() are all that is left.
import { promises as fsp } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WAL } from '../dist/index.js';

const ENTRY_BYTES = 1024;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const root = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'etcd-ts-wal-bench-'));
const data = new Uint8Array(ENTRY_BYTES).fill(0x61);
const out = (s) => process.stdout.write(`${s}\n`);

/** Bytes one entry takes in the WAL: frame header, record header, entry header, data. */
const FRAME_BYTES = ENTRY_BYTES + 8 + 16 + 12;

/**
 * The disk's floor for one save of `batch` entries: a positional write of the same bytes
 * into a file prepared the way the WAL prepares its segments (extended to 64 MiB with
 * ftruncate), then fdatasync.
 */
async function floorRun(batch, seconds) {
  const path = join(root, `floor-${batch}`);
  const h = await fsp.open(path, 'w+');
  await h.truncate(64 * 1024 * 1024);
  await h.datasync();
  const block = Buffer.alloc(batch * FRAME_BYTES, 1);
  let off = 0;
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await h.write(block, 0, block.length, off);
    await h.datasync();
    off += block.length;
    n++;
  }
  const ms = performance.now() - start;
  await h.close();
  await rm(path, { force: true });
  return ms / n;
}

async function walRun(batch, noFsync, seconds) {
  const dir = join(root, `wal-${batch}-${noFsync ? 'nosync' : 'sync'}`);
  const w = await WAL.create(dir, new Uint8Array([1]), { unsafeNoFsync: noFsync });
  let index = 1;
  let saves = 0;
  const entries = [];
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    entries.length = 0;
    for (let i = 0; i < batch; i++) entries.push({ term: 1, index: index++, type: 0, data });
    await w.save({ term: 1, vote: 1n, commit: index - 1 }, entries);
    saves++;
  }
  const ms = performance.now() - start;
  await w.close();
  await rm(dir, { recursive: true, force: true });
  return {
    msPerSave: ms / saves,
    entriesPerSec: ((index - 1) / ms) * 1000,
    mbPerSec: ((index - 1) * ENTRY_BYTES) / 1e6 / (ms / 1000),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ROUNDS = 5;

try {
  out(
    `WAL append benchmark, ${ENTRY_BYTES} B entries, ${SECONDS}s per case (medians of ${ROUNDS} alternating rounds with fsync), dir ${root}`,
  );
  out('batch  fsync  entries/s      MB/s   ms/save  disk floor ms  ratio');
  for (const batch of [1, 10, 100]) {
    // Alternate floor and WAL runs and take medians, so load elsewhere on the machine
    // hits both alike.
    const floors = [];
    const runs = [];
    for (let round = 0; round < ROUNDS; round++) {
      floors.push(await floorRun(batch, SECONDS / ROUNDS));
      runs.push(await walRun(batch, false, SECONDS / ROUNDS));
    }
    const floor = median(floors);
    const r = runs.find((x) => x.msPerSave === median(runs.map((y) => y.msPerSave)));
    out(
      `${String(batch).padStart(5)}  yes  ${Math.round(r.entriesPerSec).toLocaleString('en-US').padStart(10)}  ${r.mbPerSec.toFixed(1).padStart(8)}  ${r.msPerSave.toFixed(3).padStart(8)}  ${floor.toFixed(3).padStart(13)}  ${(r.msPerSave / floor).toFixed(2).padStart(5)}x`,
    );
  }
  for (const batch of [1, 10, 100]) {
    const r = await walRun(batch, true, SECONDS);
    out(
      `${String(batch).padStart(5)}   no  ${Math.round(r.entriesPerSec).toLocaleString('en-US').padStart(10)}  ${r.mbPerSec.toFixed(1).padStart(8)}  ${r.msPerSave.toFixed(3).padStart(8)}`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

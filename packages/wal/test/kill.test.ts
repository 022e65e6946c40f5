// A writer process is killed with SIGKILL in the middle of saving, several times over;
// after each reopen every save that had returned is present, in order, with its data.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WAL } from '../src/index.js';

const WRITER = fileURLToPath(new URL('./fixtures/writer.mjs', import.meta.url));

/** Runs the writer until it has acknowledged at least `min` indexes, then SIGKILLs it. */
function runAndKill(
  dir: string,
  mode: string,
  min: number,
): Promise<{ start: number; acked: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let start = -1;
    let acked = 0;
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        const [word, n] = line.split(' ');
        if (word === 'ready') start = Number(n);
        if (word === 'saved') acked = Number(n);
      }
      // Kill while saves are in flight: the next save is already being written.
      if (acked - start >= min && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ start, acked });
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

describe('kill -9 during saves', () => {
  it('keeps every save that returned, across repeated crashes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'etcd-ts-wal-kill-'));
    const dir = join(root, 'wal');
    try {
      let highest = 0;
      for (let round = 0; round < 5; round++) {
        const { start, acked } = await runAndKill(
          dir,
          round === 0 ? 'create' : 'open',
          300 + round * 97,
        );
        // The writer resumed after everything acknowledged before the last crash.
        expect(start).toBeGreaterThanOrEqual(highest);
        highest = acked;
        const w = await WAL.open(dir, { index: 0, term: 0 }, { segmentSizeBytes: 64 * 1024 });
        const { entries } = await w.readAll();
        await w.close();
        expect(entries.length).toBeGreaterThanOrEqual(acked);
        entries.forEach((e, i) => {
          expect(e.index).toBe(i + 1);
          expect(Buffer.from(e.data).toString().startsWith(`value-${e.index}-`)).toBe(true);
        });
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});

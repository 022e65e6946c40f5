import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newConfState, newEntry, newSnapshot } from '@etcd-ts/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskLog } from './disklog.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'disklog-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const e = (index: number, term: number, data = '') =>
  newEntry({ index, term, data: new TextEncoder().encode(data) });

describe('DiskLog', () => {
  it('replays hard state, entries (with overwritten suffixes) and snapshots', () => {
    const dir = tmp();
    const log = DiskLog.open(dir);
    log.save(
      { term: 1, vote: 1n, commit: 0 },
      [e(1, 1, 'a'), e(2, 1, 'b'), e(3, 1, 'c')],
      undefined,
      true,
    );
    log.save({ term: 2, vote: 2n, commit: 2 }, [e(3, 2, 'c2')], undefined, true);
    log.close();
    const again = DiskLog.open(dir);
    const s = again.storage;
    expect(s.initialState().hardState).toEqual({ term: 2, vote: 2n, commit: 2 });
    expect(s.entries(1, 4, Number.MAX_SAFE_INTEGER).map((x) => [x.index, x.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    // A snapshot and a rewrite keep only what is needed.
    s.createSnapshot(2, newConfState({ voters: [1n] }), new TextEncoder().encode('state'));
    s.compact(2);
    again.rewrite();
    again.close();
    const third = DiskLog.open(dir);
    expect(third.storage.firstIndex()).toBe(3);
    expect(third.storage.snapshot().metadata.index).toBe(2);
    expect(new TextDecoder().decode(third.storage.snapshot().data)).toBe('state');
    expect(third.storage.term(3)).toBe(2);
    third.close();
  });

  it('cuts off a torn record at the tail', () => {
    const dir = tmp();
    const log = DiskLog.open(dir);
    log.save({ term: 1, vote: 0n, commit: 1 }, [e(1, 1, 'x')], undefined, true);
    log.close();
    const path = join(dir, 'raft.log');
    const good = statSync(path).size;
    // Half of another record, as if the machine died while writing it.
    const l2 = DiskLog.open(dir);
    l2.save(undefined, [e(2, 1, 'y'.repeat(100))], undefined, true);
    l2.close();
    truncateSync(path, good + 50);
    const l3 = DiskLog.open(dir);
    expect(l3.storage.lastIndex()).toBe(1);
    expect(statSync(path).size).toBe(good);
    l3.close();
    // Garbage (a bad checksum) is cut off the same way.
    appendFileSync(path, Buffer.from([0, 0, 0, 1, 9, 9, 9, 9, 2, 0]));
    const l4 = DiskLog.open(dir);
    expect(l4.storage.lastIndex()).toBe(1);
    expect(readFileSync(path).length).toBe(good);
    l4.close();
  });

  it('restores a received snapshot', () => {
    const dir = tmp();
    const log = DiskLog.open(dir);
    const snap = newSnapshot({
      data: new Uint8Array([1, 2]),
      metadata: { index: 10, term: 3, confState: { voters: [1n, 2n] } },
    });
    log.save({ term: 3, vote: 0n, commit: 10 }, [], snap, false);
    log.close();
    const again = DiskLog.open(dir);
    expect(again.storage.snapshot().metadata.index).toBe(10);
    expect(again.storage.initialState().confState.voters).toEqual([1n, 2n]);
    expect(again.storage.lastIndex()).toBe(10);
    again.close();
  });
});

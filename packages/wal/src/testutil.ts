// Helpers shared by this package's tests (not exported from the package).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '@etcd-ts/raft';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'etcd-ts-wal-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function entry(index: number, term: number, data = `e${index}`): Entry {
  return { index, term, type: 0, data: new TextEncoder().encode(data) };
}

export function entries(from: number, to: number, term: number, size = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push(entry(i, term, size > 0 ? `e${i}:`.padEnd(size, 'x') : `e${i}`));
  }
  return out;
}

export { rng } from '@etcd-ts/testing';

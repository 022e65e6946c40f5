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

/** A small deterministic PRNG (mulberry32) for seeded tests. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '@etcd-ts/backend';
import { describe, expect, it } from 'vitest';

/** A real backend in a fresh temp dir; `reopen` closes it and opens the same file again. */
export class TempBackend {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-'));
  backend: Backend = this.open();

  private open(): Backend {
    return Backend.open({ path: path.join(this.dir, 'db'), batchInterval: 0, noSync: true });
  }

  async reopen(): Promise<Backend> {
    await this.backend.close();
    this.backend = this.open();
    return this.backend;
  }

  async dispose(): Promise<void> {
    await this.backend.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A seeded PRNG (mulberry32), so randomised tests can be replayed from their printed seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seedFrom(envName: string): number {
  const fromEnv = process.env[envName];
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

describe('test helpers', () => {
  it('mulberry32 replays the same sequence for a seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});

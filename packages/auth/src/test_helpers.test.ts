import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '@etcd-ts/backend';
import { rng as mulberry32 } from '@etcd-ts/testing';
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

export { mulberry32 };

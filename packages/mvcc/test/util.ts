import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '@etcd-ts/backend';
import type { LeaseLinker } from '../src/kvstore.js';

export const b = (s: string): Buffer => Buffer.from(s);
export const s = (u: Uint8Array): string => Buffer.from(u).toString();

/** A temp dir with a backend file in it; `reopen` closes and opens the same file. */
export class TestDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mvcc-test-'));
  readonly file = path.join(this.dir, 'db');
  readonly backends: Backend[] = [];

  backend(opts: { batchInterval?: number; batchLimit?: number } = {}): Backend {
    const be = Backend.open({ path: this.file, batchInterval: 0, noSync: true, ...opts });
    this.backends.push(be);
    return be;
  }

  async cleanup(): Promise<void> {
    for (const be of this.backends) await be.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A lessor stand-in: leases that exist and which keys each holds. */
export class FakeLessor implements LeaseLinker {
  readonly leases = new Set<bigint>();
  readonly keyLease = new Map<string, bigint>();
  readonly log: string[] = [];

  grant(id: bigint): void {
    this.leases.add(id);
  }
  attach(leaseId: bigint, key: Uint8Array): void {
    this.keyLease.set(s(key), leaseId);
    this.log.push(`attach ${leaseId} ${s(key)}`);
  }
  detach(leaseId: bigint, key: Uint8Array): void {
    if (this.keyLease.get(s(key)) === leaseId) this.keyLease.delete(s(key));
    this.log.push(`detach ${leaseId} ${s(key)}`);
  }
  leaseExists(leaseId: bigint): boolean {
    return this.leases.has(leaseId);
  }
  getLease(key: Uint8Array): bigint {
    return this.keyLease.get(s(key)) ?? 0n;
  }
}

/** The seed of a randomised test: MVCC_SEED from the environment, else a fresh one. */
export function testSeed(name: string): number {
  const seed =
    process.env.MVCC_SEED !== undefined
      ? Number(process.env.MVCC_SEED)
      : Math.floor(Math.random() * 2 ** 31);
  console.log(`${name}: seed ${seed} (rerun with MVCC_SEED=${seed})`);
  return seed;
}

export { rng } from '@etcd-ts/testing';

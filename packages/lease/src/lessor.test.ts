import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type etcdserverpb, leasepb } from '@etcd-ts/api';
import { Backend, Bucket } from '@etcd-ts/backend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from './clock.js';
import {
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseTTLTooLargeError,
  NotPrimaryError,
} from './errors.js';
import { FOREVER, type Lease } from './lease.js';
import {
  bytesToLeaseId,
  FOREVER_TTL_SECONDS,
  LESSOR_TICK_INTERVAL_MS,
  Lessor,
  type LessorConfig,
  leaseIdToBytes,
  MAX_LEASE_TTL,
  minLeaseTTL,
  type TxnDelete,
} from './lessor.js';

const KV = 'kv';

/**
 * A stand-in for mvcc: keys live in a bucket of the same backend, a put attaches its key
 * to its lease, and a delete transaction holds the backend's batch lock and detaches the
 * keys it deletes, as mvcc's write transaction does.
 */
class FakeKV {
  readonly deleted: string[] = [];
  txns = 0;
  constructor(
    private readonly backend: Backend,
    private readonly lessor: () => Lessor,
  ) {}

  put(key: string, lease: bigint): void {
    this.backend.put(KV, Buffer.from(key), Buffer.from('v'));
    this.lessor().attach(lease, Buffer.from(key));
  }

  has(key: string): boolean {
    return this.backend.get(KV, Buffer.from(key)) !== undefined;
  }

  rangeDeleter = (): TxnDelete => {
    this.backend.lock();
    this.txns++;
    return {
      deleteRange: (key: Uint8Array) => {
        this.backend.delete(KV, key);
        this.deleted.push(Buffer.from(key).toString());
        const id = this.lessor().getLease(key);
        if (id !== 0n) this.lessor().detach(id, key);
        return { deleted: 1, rev: 0 };
      },
      end: () => this.backend.unlock(),
    };
  };
}

let dir: string;
let backend: Backend;
let clock: ManualClock;

function openBackend(): Backend {
  return Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
}

function newLessor(cfg: Partial<LessorConfig> = {}): Lessor {
  return new Lessor({ backend, clock, ...cfg });
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lessor-'));
  backend = openBackend();
  clock = new ManualClock(1_000_000);
});

afterEach(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function leaseRecords(b: Backend): leasepb.Lease[] {
  const out: leasepb.Lease[] = [];
  b.forEach(Bucket.lease, (k, v) => {
    const rec = leasepb.Lease.decode(v);
    expect(bytesToLeaseId(k)).toBe(rec.ID);
    out.push(rec);
    return true;
  });
  return out;
}

async function drain(le: Lessor): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (
    let batch = le.expiredLeases().tryReceive();
    batch;
    batch = le.expiredLeases().tryReceive()
  ) {
    for (const l of batch) ids.push(l.id);
  }
  return ids;
}

describe('grant', () => {
  it('grants, raises to the minimum TTL, and persists the lease record', () => {
    const le = newLessor({ minLeaseTTL: 5 });
    const l = le.grant(1n, 1);
    expect(l.ttl).toBe(5);
    le.grant(2n, 60);
    expect(le.lookup(2n)?.ttl).toBe(60);
    expect(le.leaseExists(1n)).toBe(true);
    expect(le.size).toBe(2);
    expect(leaseRecords(backend)).toEqual([
      { ID: 1n, TTL: 5, RemainingTTL: 0 },
      { ID: 2n, TTL: 60, RemainingTTL: 0 },
    ]);
    // Stored under the 8-byte big-endian id, as etcd does.
    expect(backend.get(Bucket.lease, Buffer.from('0000000000000002', 'hex'))).toBeDefined();
  });

  it('refuses id 0, a duplicate id and a TTL above MaxLeaseTTL with etcd errors', () => {
    const le = newLessor();
    expect(() => le.grant(0n, 10)).toThrow(LeaseNotFoundError);
    le.grant(7n, 10);
    expect(() => le.grant(7n, 10)).toThrow(LeaseExistsError);
    // etcd's lease package texts (the server maps them to its rpctypes and codes).
    expect(() => le.grant(7n, 10)).toThrow(/^lease already exists$/);
    expect(() => le.grant(8n, MAX_LEASE_TTL + 1)).toThrow(/^too large lease TTL$/);
    expect(() => le.grant(8n, MAX_LEASE_TTL + 1)).toThrow(LeaseTTLTooLargeError);
    expect(le.grant(8n, MAX_LEASE_TTL).ttl).toBe(MAX_LEASE_TTL);
    expect(new LeaseNotFoundError().message).toBe('lease not found');
    expect(new LeaseNotFoundError()).not.toHaveProperty('grpcCode');
  });

  it('keeps 64-bit ids exact, including negative ones', () => {
    const le = newLessor();
    const big = 2n ** 63n - 1n;
    le.grant(big, 10);
    le.grant(-5n, 10);
    expect(leaseIdToBytes(big).toString('hex')).toBe('7fffffffffffffff');
    expect(bytesToLeaseId(leaseIdToBytes(-5n))).toBe(-5n);
    expect(() => le.grant(2n ** 63n, 10)).toThrow(RangeError);
    expect(
      leaseRecords(backend)
        .map((r) => r.ID)
        .sort(),
    ).toEqual([-5n, big].sort());
  });

  it('a follower grants leases that never expire until it is promoted', () => {
    const le = newLessor();
    le.grant(9n, 10);
    le.grant(3n, 10);
    expect(le.leases().map((x) => x.id)).toEqual([3n, 9n]); // all FOREVER: by id
    le.revoke(9n);
    le.revoke(3n);
    const l = le.grant(1n, 10);
    expect(l.expiry).toBe(FOREVER);
    expect(le.timeToLive(1n).TTL).toBe(FOREVER_TTL_SECONDS);
    le.promote(0);
    le.grant(2n, 10);
    expect(le.lookup(2n)?.remaining()).toBe(10_000);
  });

  it('minLeaseTTL is one and a half election timeouts rounded up to seconds', () => {
    expect(minLeaseTTL(10, 100)).toBe(2); // etcd's defaults: 1.5 s -> 2 s
    expect(minLeaseTTL(11, 100)).toBe(2); // 3*11/2 = 16 ticks
    expect(minLeaseTTL(50, 100)).toBe(8);
  });
});

describe('revoke', () => {
  it('deletes the attached keys in byte order in one txn, with the lease record', () => {
    let le!: Lessor;
    const kv = new FakeKV(backend, () => le);
    le = newLessor({ rangeDeleter: kv.rangeDeleter });
    le.grant(1n, 10);
    le.grant(2n, 10);
    kv.put('zeta', 1n);
    kv.put('alpha', 1n);
    kv.put('mid', 1n);
    kv.put('other', 2n);
    expect(le.getLease(Buffer.from('alpha'))).toBe(1n);
    le.revoke(1n);
    expect(kv.deleted).toEqual(['alpha', 'mid', 'zeta']);
    expect(kv.txns).toBe(1);
    expect(kv.has('alpha') || kv.has('mid') || kv.has('zeta')).toBe(false);
    expect(kv.has('other')).toBe(true);
    expect(le.lookup(1n)).toBeUndefined();
    expect(le.getLease(Buffer.from('alpha'))).toBe(0n);
    expect(leaseRecords(backend).map((r) => r.ID)).toEqual([2n]);
    expect(() => le.revoke(1n)).toThrow(LeaseNotFoundError);
  });

  it('revokes a lease without keys when no deleter is set, and refuses one with keys', () => {
    const le = newLessor();
    le.grant(1n, 10);
    le.grant(2n, 10);
    le.attach(2n, Buffer.from('k'));
    le.revoke(1n);
    expect(le.lookup(1n)).toBeUndefined();
    expect(() => le.revoke(2n)).toThrow(/range deleter/);
    expect(le.lookup(2n)).toBeDefined();
  });
});

describe('attach and detach', () => {
  it('tracks key to lease both ways', () => {
    const le = newLessor();
    le.grant(1n, 10);
    le.attachItems(1n, [{ key: Buffer.from('b') }, { key: Buffer.from('a') }]);
    le.attach(1n, Buffer.from([0, 255]));
    expect(le.lookup(1n)?.keys()).toEqual([
      Buffer.from([0, 255]),
      Buffer.from('a'),
      Buffer.from('b'),
    ]);
    expect(le.detach(1n, Buffer.from('a'))).toBe(true);
    expect(le.getLease(Buffer.from('a'))).toBe(0n);
    expect(le.timeToLive(1n, true).keys).toEqual([Buffer.from([0, 255]), Buffer.from('b')]);
    expect(le.timeToLive(1n, false).keys).toEqual([]);
    expect(() => le.attach(9n, Buffer.from('x'))).toThrow(LeaseNotFoundError);
    expect(le.detach(9n, Buffer.from('b'))).toBe(false);
    expect(() => le.timeToLive(9n)).toThrow(LeaseNotFoundError);
  });
});

describe('renew', () => {
  it('only the primary renews; it restarts the countdown from the full TTL', async () => {
    const le = newLessor();
    le.grant(1n, 10);
    await expect(le.renew(1n)).rejects.toThrow(NotPrimaryError);
    le.promote(0);
    await expect(le.renew(2n)).rejects.toThrow(LeaseNotFoundError);
    clock.advance(7_000);
    expect(le.timeToLive(1n).TTL).toBe(3);
    clock.advance(500);
    expect(le.timeToLive(1n).TTL).toBe(2); // truncated, as etcd does
    expect(await le.renew(1n)).toBe(10);
    expect(le.lookup(1n)?.remaining()).toBe(10_000);
    // The renewed expiry is what the expiry queue goes by.
    clock.advance(9_000);
    await le.tick();
    expect(await drain(le)).toEqual([]);
  });

  it('clears a checkpointed remaining TTL through the checkpointer before renewing', async () => {
    const sent: etcdserverpb.LeaseCheckpointRequest[] = [];
    let le!: Lessor;
    le = newLessor({
      checkpointer: async (req) => {
        sent.push(req);
        for (const c of req.checkpoints) le.checkpoint(c.ID, c.remainingTTL);
      },
    });
    le.grant(1n, 100);
    le.checkpoint(1n, 40);
    le.promote(0);
    expect(le.lookup(1n)?.remaining()).toBe(40_000);
    expect(await le.renew(1n)).toBe(100);
    expect(sent).toEqual([{ checkpoints: [{ ID: 1n, remainingTTL: 0 }] }]);
    expect(le.lookup(1n)?.remaining()).toBe(100_000);
    // Without a checkpoint set, renewing proposes nothing.
    await le.renew(1n);
    expect(sent).toHaveLength(1);
  });

  it('a renew of an expired lease waits: not found once revoked, not primary once demoted', async () => {
    const le = newLessor();
    le.grant(1n, 10);
    le.grant(2n, 10);
    le.promote(0);
    clock.advance(11_000);
    const r1 = le.renew(1n);
    const r2 = le.renew(2n);
    let settled = false;
    r1.catch(() => {}).finally(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    le.revoke(1n);
    await expect(r1).rejects.toThrow(LeaseNotFoundError);
    le.demote();
    await expect(r2).rejects.toThrow(NotPrimaryError);
  });
});

describe('renew waiters', () => {
  it('a stop or a recover ends renews waiting on expired leases', async () => {
    const le = newLessor();
    le.grant(1n, 1);
    le.grant(2n, 1);
    le.promote(0);
    clock.advance(2_000);
    const r1 = le.renew(1n);
    const r2 = le.renew(1n);
    le.recover(backend); // the leases are reloaded: the old ones are gone
    await expect(r1).rejects.toThrow(LeaseNotFoundError);
    await expect(r2).rejects.toThrow(LeaseNotFoundError);
    clock.advance(2_000);
    const r3 = le.renew(2n);
    le.stop();
    await expect(r3).rejects.toThrow(NotPrimaryError);
    await expect(le.renew(2n)).rejects.toThrow(NotPrimaryError);
  });
});

describe('expiry', () => {
  it('only the primary hands out expired leases; it does not revoke them itself', async () => {
    const le = newLessor();
    le.grant(1n, 10);
    clock.advance(60_000);
    await le.tick();
    expect(await drain(le)).toEqual([]); // a follower never expires leases
    le.promote(0);
    clock.advance(9_999);
    await le.tick();
    expect(await drain(le)).toEqual([]);
    clock.advance(1);
    await le.tick();
    expect(await drain(le)).toEqual([1n]);
    expect(le.lookup(1n)).toBeDefined();
    // Not handed out again until the retry interval says its revoke may have been lost.
    clock.advance(2_999);
    await le.tick();
    expect(await drain(le)).toEqual([]);
    clock.advance(1);
    await le.tick();
    expect(await drain(le)).toEqual([1n]);
    le.revoke(1n);
    clock.advance(10_000);
    await le.tick();
    expect(await drain(le)).toEqual([]);
  });

  it('hands out at most leaseRevokeRate leases per second', async () => {
    const le = newLessor({ leaseRevokeRate: 10 });
    le.promote(0);
    for (let i = 1; i <= 100; i++) le.grant(BigInt(i), 5);
    clock.advance(5_000);
    await le.tick();
    const first = await drain(le);
    expect(first).toHaveLength(5); // a burst of rate/2, as etcd's 500 ms pass
    for (const id of first) le.revoke(id);
    await le.tick();
    expect(await drain(le)).toHaveLength(0); // no time passed, no tokens
    let total = 5;
    for (let second = 0; second < 9; second++) {
      let n = 0;
      for (let t = 0; t < 1000 / LESSOR_TICK_INTERVAL_MS; t++) {
        clock.advance(LESSOR_TICK_INTERVAL_MS);
        await le.tick();
        for (const id of await drain(le)) {
          le.revoke(id);
          n++;
        }
      }
      expect(n).toBeLessThanOrEqual(10);
      total += n;
    }
    expect(total).toBe(95);
    expect(le.size).toBe(5);
  });

  it('keeps expired leases queued while the server is not draining', async () => {
    const le = newLessor({ leaseRevokeRate: 2 });
    le.promote(0);
    for (let i = 1; i <= 40; i++) le.grant(BigInt(i), 1);
    clock.advance(1_000);
    for (let i = 0; i < 40; i++) {
      await le.tick();
      clock.advance(500);
    }
    expect(le.expiredLeases().length).toBe(16); // bounded, nothing dropped
    const ids = new Set(await drain(le));
    expect(ids.size).toBe(16);
    for (const id of ids) le.revoke(id);
    for (let i = 0; i < 60; i++) {
      clock.advance(500);
      await le.tick();
      for (const id of await drain(le)) {
        ids.add(id);
        if (le.leaseExists(id)) le.revoke(id);
      }
    }
    expect(ids.size).toBe(40);
  });

  it('a demoted lessor stops counting: every lease is forever and nothing expires', async () => {
    const le = newLessor();
    le.grant(1n, 5);
    le.promote(0);
    le.demote();
    expect(le.isPrimary).toBe(false);
    expect(le.lookup(1n)?.demoted).toBe(true);
    clock.advance(100_000);
    await le.tick();
    expect(await drain(le)).toEqual([]);
  });

  it('run() ticks from a timer every 500 ms until stopped', async () => {
    const le = newLessor();
    le.promote(0);
    le.grant(1n, 1);
    clock.advance(1_000);
    vi.useFakeTimers();
    try {
      const stopRun = le.run();
      await vi.advanceTimersByTimeAsync(LESSOR_TICK_INTERVAL_MS - 1);
      expect(le.expiredLeases().length).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(await drain(le)).toEqual([1n]);
      stopRun();
      clock.advance(10_000);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(le.expiredLeases().length).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the expired-leases stream is an async iterator that ends at stop', async () => {
    const le = newLessor();
    le.promote(0);
    le.grant(1n, 1);
    const got: Lease[][] = [];
    const consumer = (async () => {
      for await (const batch of le.expiredLeases()) got.push(batch);
    })();
    clock.advance(1_000);
    await le.tick();
    le.stop();
    await consumer;
    expect(got.map((b) => b.map((l) => l.id))).toEqual([[1n]]);
  });
});

describe('promote', () => {
  it('extends every lease by the election timeout so none expires because of the change', () => {
    const le = newLessor();
    le.grant(1n, 5);
    le.grant(2n, 60);
    clock.advance(4_000);
    le.promote(1_000);
    expect(le.lookup(1n)?.remaining()).toBe(6_000);
    expect(le.lookup(2n)?.remaining()).toBe(61_000);
    expect(le.leases().map((l) => l.id)).toEqual([1n, 2n]);
  });

  it('spreads a pile-up of leases over later seconds (etcd TestLessorRenewExtendPileup)', async () => {
    const rate = 10;
    let le = newLessor({ leaseRevokeRate: rate });
    const ttl = 10;
    for (let i = 1; i <= rate * 10; i++) {
      le.grant(BigInt(2 * i), ttl);
      le.grant(BigInt(2 * i + 1), ttl + 1);
    }
    le.stop();
    await backend.close();
    backend = openBackend();
    le = newLessor({ leaseRevokeRate: rate });
    le.promote(0);
    const windows = new Map<number, number>();
    for (const l of le.leases()) {
      const s = Math.trunc(l.remaining() / 1000 + 0.1);
      windows.set(s, (windows.get(s) ?? 0) + 1);
    }
    for (let s = ttl; s < ttl + 20; s++) {
      const c = windows.get(s) ?? 0;
      expect(c).toBeLessThanOrEqual(rate);
      expect(c).toBeGreaterThanOrEqual(rate / 2);
    }
  });
});

describe('checkpoints', () => {
  it('the primary checkpoints the remaining TTL every interval (etcd TestLessorCheckpointScheduling)', async () => {
    const sent: etcdserverpb.LeaseCheckpointRequest[] = [];
    const le = newLessor({
      minLeaseTTL: 1,
      checkpointIntervalMs: 1_000,
      checkpointer: async (req) => {
        sent.push(req);
      },
    });
    le.grant(1n, 2);
    le.grant(2n, 1); // not longer than the interval: never checkpointed
    le.promote(0);
    clock.advance(999);
    await le.tick();
    expect(sent).toEqual([]);
    clock.advance(1);
    await le.tick();
    expect(sent).toEqual([{ checkpoints: [{ ID: 1n, remainingTTL: 1 }] }]);
  });

  it('a promotion counts down from the checkpointed TTL (etcd TestLessorCheckpointsRestoredOnPromote)', () => {
    const le = newLessor();
    le.grant(1n, 10);
    le.checkpoint(1n, 5);
    le.checkpoint(99n, 5); // unknown leases are ignored
    le.promote(0);
    expect(le.lookup(1n)?.remaining()).toBe(5_000);
  });

  it('batches at most 1000 checkpoints per proposal and stops on a failed proposal', async () => {
    const sizes: number[] = [];
    let fail = false;
    const le = newLessor({
      checkpointIntervalMs: 1_000,
      checkpointer: async (req) => {
        sizes.push(req.checkpoints.length);
        if (fail) throw new Error('proposal dropped');
      },
    });
    le.promote(0);
    for (let i = 1; i <= 2500; i++) le.grant(BigInt(i), 60);
    clock.advance(1_000);
    await le.tick();
    expect(sizes).toEqual([1000, 1000, 500]);
    for (let i = 1; i <= 2500; i++) le.checkpoint(BigInt(i), 50); // reschedules each
    fail = true;
    sizes.length = 0;
    clock.advance(1_000);
    await le.tick();
    expect(sizes).toEqual([1000]);
  }, 60_000);

  it('persists the remaining TTL across a restart (etcd TestLessorCheckpointPersistenceAfterRestart)', async () => {
    let le = newLessor();
    le.grant(2n, 10);
    le.checkpoint(2n, 5);
    expect(le.lookup(2n)?.remainingTTL).toBe(5);
    le.stop();
    await backend.close();
    backend = openBackend();
    le = newLessor();
    expect(le.lookup(2n)?.remainingTTL).toBe(5);
    expect(le.lookup(2n)?.ttl).toBe(10);
  });

  it('with checkpointPersist off, a restart forgets the checkpoint (etcd 3.5 default)', async () => {
    let le = newLessor({ checkpointPersist: false });
    le.grant(2n, 10);
    le.checkpoint(2n, 5);
    le.stop();
    await backend.close();
    backend = openBackend();
    le = newLessor();
    expect(le.lookup(2n)?.remainingTTL).toBe(10);
  });
});

describe('recovery', () => {
  it('a restarted lessor has every lease back, forever until promoted, keys re-attachable', async () => {
    let le!: Lessor;
    let kv = new FakeKV(backend, () => le);
    le = newLessor({ rangeDeleter: kv.rangeDeleter });
    le.promote(0);
    le.grant(1n, 10);
    le.grant(2n, 3);
    le.grant(3n, 100);
    le.revoke(3n);
    kv.put('a', 1n);
    kv.put('b', 2n);
    le.stop();
    await backend.close();

    backend = openBackend();
    kv = new FakeKV(backend, () => le);
    le = newLessor({ rangeDeleter: kv.rangeDeleter, minLeaseTTL: 5 });
    expect(le.leases().map((l) => [l.id, l.ttl, l.expiry])).toEqual([
      [1n, 10, FOREVER],
      [2n, 5, FOREVER], // raised to the new minimum
    ]);
    expect(le.lookup(1n)?.keyCount).toBe(0);
    // The key-value store re-attaches its keys when it rebuilds its index.
    le.attach(1n, Buffer.from('a'));
    le.attach(2n, Buffer.from('b'));
    le.promote(0);
    clock.advance(5_000);
    await le.tick();
    expect(await drain(le)).toEqual([2n]);
    le.revoke(2n);
    expect(kv.has('b')).toBe(false);
    expect(kv.has('a')).toBe(true);
  });

  it('recover() reloads from a replaced backend and drops the old state', async () => {
    const le = newLessor();
    le.grant(1n, 10);
    le.attach(1n, Buffer.from('k'));
    const other = Backend.open({ path: path.join(dir, 'other'), batchInterval: 0, noSync: true });
    try {
      new Lessor({ backend: other, clock }).grant(5n, 30);
      le.recover(other);
      expect(le.leases().map((l) => l.id)).toEqual([5n]);
      expect(le.getLease(Buffer.from('k'))).toBe(0n);
    } finally {
      await other.close();
    }
  });

  it('refuses a corrupt lease record with the lease id in the message', () => {
    backend.put(Bucket.lease, leaseIdToBytes(0xabn), Buffer.from([0xff, 0xff]));
    expect(() => newLessor()).toThrow(/lease ID=ab/);
  });
});

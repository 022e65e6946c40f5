import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backend } from '@etcd-ts/backend';
import { rng as mulberry32 } from '@etcd-ts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { LeaseError } from './errors.js';
import { FOREVER } from './lease.js';
import { Lessor, type TxnDelete } from './lessor.js';

interface ModelLease {
  ttl: number;
  remainingTTL: number;
  expiry: number;
  keys: Set<string>;
}

const MIN_TTL = 2;
const RETRY_MS = 3000;

/**
 * A seeded random walk over the lessor's operations — grants, revokes, attaches, detaches,
 * renews, checkpoints, promotions, demotions, clock moves with expiry ticks, and restarts of
 * the backend — checked after every step against a plain model of what etcd's lessor does.
 */
describe('lessor against a model (randomised)', () => {
  let dir: string;
  let backend: Backend;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lessor-model-'));
    backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
  });

  afterEach(async () => {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('agrees with the model at every step', async () => {
    const seed = Number(process.env.LESSOR_MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`lessor model seed=${seed} (LESSOR_MODEL_SEED to reproduce)`);
    const rand = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const clock = new ManualClock(10_000);
    const kv = new Set<string>(); // keys in the "key-value store" (a backend bucket too)
    const model = new Map<bigint, ModelLease>();
    let primary = false;
    let lessor!: Lessor;
    const rangeDeleter = (): TxnDelete => ({
      deleteRange: (key) => {
        const k = Buffer.from(key).toString('latin1');
        kv.delete(k);
        backend.delete('kv', key);
        const id = lessor.getLease(key);
        if (id !== 0n) lessor.detach(id, key);
      },
      end: () => {},
    });
    const open = () =>
      new Lessor({
        backend,
        clock,
        minLeaseTTL: MIN_TTL,
        leaseRevokeRate: 1_000_000,
        expiredLeasesRetryIntervalMs: RETRY_MS,
        rangeDeleter,
      });
    lessor = open();
    const ids = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 2n ** 63n - 1n, -9n];
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', '\u0000x', '\u00ffz'];
    /** Expired leases the lessor handed out, and when it may hand each out again. */
    const handedOutUntil = new Map<bigint, number>();
    const ctx = (step: number, op: string) => `seed=${seed} step=${step} op=${op}`;

    const expectError = (fn: () => unknown, name: string, where: string) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err, where).toBeInstanceOf(LeaseError);
      expect((err as Error).name, where).toBe(name);
    };

    const revokeInModel = (id: bigint) => {
      const m = model.get(id)!;
      for (const k of m.keys) kv.delete(k);
      model.delete(id);
      handedOutUntil.delete(id);
    };

    for (let step = 0; step < 1500; step++) {
      const r = rand();
      let op = '';
      if (r < 0.18) {
        const id = pick(ids);
        const ttl = Math.floor(rand() * 12);
        op = `grant ${id} ${ttl}`;
        if (model.has(id))
          expectError(() => lessor.grant(id, ttl), 'LeaseExistsError', ctx(step, op));
        else {
          lessor.grant(id, ttl);
          const t = Math.max(ttl, MIN_TTL);
          model.set(id, {
            ttl: t,
            remainingTTL: 0,
            expiry: primary ? clock.now() + t * 1000 : FOREVER,
            keys: new Set(),
          });
        }
      } else if (r < 0.28) {
        const id = pick(ids);
        op = `revoke ${id}`;
        if (!model.has(id))
          expectError(() => lessor.revoke(id), 'LeaseNotFoundError', ctx(step, op));
        else {
          lessor.revoke(id);
          revokeInModel(id);
        }
      } else if (r < 0.43) {
        const id = pick(ids);
        const key = pick(keys);
        op = `attach ${id} ${JSON.stringify(key)}`;
        const m = model.get(id);
        if (m === undefined) {
          expectError(
            () => lessor.attach(id, Buffer.from(key, 'latin1')),
            'LeaseNotFoundError',
            ctx(step, op),
          );
        } else {
          // As mvcc does: a put under a new lease detaches the key from its old one first.
          const old = lessor.getLease(Buffer.from(key, 'latin1'));
          if (old !== 0n) {
            lessor.detach(old, Buffer.from(key, 'latin1'));
            model.get(old)?.keys.delete(key);
          }
          kv.add(key);
          backend.put('kv', Buffer.from(key, 'latin1'), Buffer.from('v'));
          lessor.attach(id, Buffer.from(key, 'latin1'));
          m.keys.add(key);
        }
      } else if (r < 0.5) {
        const id = pick(ids);
        const key = pick(keys);
        op = `detach ${id} ${JSON.stringify(key)}`;
        const m = model.get(id);
        expect(lessor.detach(id, Buffer.from(key, 'latin1')), ctx(step, op)).toBe(m !== undefined);
        m?.keys.delete(key);
      } else if (r < 0.62) {
        const id = pick(ids);
        op = `renew ${id}`;
        const m = model.get(id);
        if (!primary)
          await expect(lessor.renew(id), ctx(step, op)).rejects.toThrow('not a primary lessor');
        else if (m === undefined) {
          await expect(lessor.renew(id), ctx(step, op)).rejects.toThrow(/^lease not found$/);
        } else if (m.expiry > clock.now()) {
          expect(await lessor.renew(id), ctx(step, op)).toBe(m.ttl);
          m.expiry = clock.now() + (m.remainingTTL > 0 ? m.remainingTTL : m.ttl) * 1000;
          handedOutUntil.delete(id);
        }
      } else if (r < 0.67) {
        const id = pick(ids);
        const rem = Math.floor(rand() * 8);
        op = `checkpoint ${id} ${rem}`;
        lessor.checkpoint(id, rem);
        const m = model.get(id);
        if (m !== undefined) m.remainingTTL = rem;
      } else if (r < 0.72) {
        const extend = pick([0, 1000, 1500]);
        op = `promote ${extend}`;
        lessor.promote(extend);
        primary = true;
        for (const m of model.values()) {
          m.expiry = clock.now() + extend + (m.remainingTTL > 0 ? m.remainingTTL : m.ttl) * 1000;
        }
        handedOutUntil.clear();
      } else if (r < 0.75) {
        op = 'demote';
        lessor.demote();
        primary = false;
        for (const m of model.values()) m.expiry = FOREVER;
        handedOutUntil.clear();
      } else if (r < 0.97) {
        const ms = Math.floor(rand() * 4000);
        op = `advance ${ms} + tick`;
        clock.advance(ms);
        await lessor.tick();
        const now = clock.now();
        const got = new Set<bigint>();
        for (
          let b = lessor.expiredLeases().tryReceive();
          b;
          b = lessor.expiredLeases().tryReceive()
        ) {
          for (const l of b) got.add(l.id);
        }
        for (const [id, m] of model) {
          const due =
            m.expiry <= now && (handedOutUntil.get(id) ?? Number.NEGATIVE_INFINITY) <= now;
          expect(got.has(id), `${ctx(step, op)} lease ${id} expiry ${m.expiry} now ${now}`).toBe(
            due,
          );
          if (due) handedOutUntil.set(id, now + RETRY_MS);
        }
        // The server revokes some of what it was handed, through consensus.
        for (const id of got) {
          if (rand() < 0.6) {
            lessor.revoke(id);
            revokeInModel(id);
          }
        }
      } else {
        op = 'restart';
        lessor.stop();
        await backend.close();
        backend = Backend.open({ path: path.join(dir, 'db'), batchInterval: 0, noSync: true });
        lessor = open();
        // mvcc re-attaches every leased key as it rebuilds its index.
        for (const [id, m] of model)
          for (const k of m.keys) lessor.attach(id, Buffer.from(k, 'latin1'));
        primary = false;
        for (const m of model.values()) m.expiry = FOREVER;
        handedOutUntil.clear();
      }

      // Invariants: the same leases, TTLs, expiries and keys; the key-value store agrees.
      const where = ctx(step, op);
      const leases = lessor.leases();
      expect(leases.map((l) => l.id).sort(), where).toEqual([...model.keys()].sort());
      for (const l of leases) {
        const m = model.get(l.id)!;
        expect(l.ttl, where).toBe(m.ttl);
        expect(l.remainingTTL, where).toBe(m.remainingTTL > 0 ? m.remainingTTL : m.ttl);
        expect(l.expiry, `${where} lease ${l.id}`).toBe(m.expiry);
        expect(
          l.keys().map((k) => k.toString('latin1')),
          where,
        ).toEqual([...m.keys].sort());
        for (const k of m.keys) expect(lessor.getLease(Buffer.from(k, 'latin1')), where).toBe(l.id);
      }
      for (const k of keys) {
        const inBackend = backend.get('kv', Buffer.from(k, 'latin1')) !== undefined;
        expect(inBackend, `${where} key ${JSON.stringify(k)}`).toBe(kv.has(k));
      }
      expect(lessor.isPrimary, where).toBe(primary);
    }
  }, 120_000);
});

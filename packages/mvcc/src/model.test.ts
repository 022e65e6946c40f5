import { availableParallelism } from 'node:os';
import type { Backend } from '@etcd-ts/backend';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FakeLessor, rng, TestDir, testSeed } from '../test/util.js';
import { CompactedError, FutureRevError } from './errors.js';
import { KVStore } from './kvstore.js';

// Model-based test: random puts, deletes, multi-op txns, compactions and restarts run
// against the store and against a plain in-memory model of etcd's semantics; after every
// step, every range at every readable revision must agree.

interface ModelKV {
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: bigint;
}
type State = Map<string, ModelKV>;

class Model {
  /** The state after each revision; states[rev]. Revision 1 is the empty store. */
  states: Array<State | undefined> = [undefined, new Map()];
  compactRev = -1;
  get rev(): number {
    return this.states.length - 1;
  }
  /** Applies one txn of ops (each a put or a delete-range) as one revision, if it changes anything. */
  apply(ops: Array<{ put?: [string, string, bigint]; del?: [string, string | undefined] }>): void {
    const cur = this.states[this.rev]!;
    const next: State = new Map(cur);
    const rev = this.rev + 1;
    let changed = false;
    for (const op of ops) {
      if (op.put !== undefined) {
        const [k, v, lease] = op.put;
        const prev = next.get(k);
        next.set(k, {
          value: v,
          create: prev?.create ?? rev,
          mod: rev,
          version: (prev?.version ?? 0) + 1,
          lease,
        });
        changed = true;
      } else if (op.del !== undefined) {
        for (const k of [...next.keys()]) {
          if (inRange(k, op.del[0], op.del[1])) {
            next.delete(k);
            changed = true;
          }
        }
      }
    }
    if (changed) this.states.push(next);
  }
  range(start: string, end: string | undefined, rev: number): Array<[string, ModelKV]> {
    const st = this.states[rev]!;
    return [...st.entries()]
      .filter(([k]) => inRange(k, start, end))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** end undefined: the single key; '\0': every key >= start; else [start, end). */
function inRange(k: string, start: string, end: string | undefined): boolean {
  if (end === undefined) return k === start;
  if (end === '\u0000') return k >= start;
  return k >= start && k < end;
}

const KEYS = ['a', 'a/1', 'a/2', 'ab', 'b', 'b/x', 'c', 'd', 'z'];

let t: TestDir;
beforeEach(() => {
  t = new TestDir();
});
afterEach(async () => {
  await t.cleanup();
});

it('agrees with a reference model on every range at every revision', async () => {
  const seed = testSeed('mvcc model test');
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const lessor = new FakeLessor();
  for (const id of [1n, 2n, 3n]) lessor.grant(id);
  let be: Backend = t.backend({ batchLimit: 7 });
  let st = new KVStore(be, { lessor, compactionBatchLimit: 3, compactionSleepInterval: 0 });
  const model = new Model();
  let pendingCompaction: Promise<void> = Promise.resolve();
  const randomRange = (): [string, string | undefined] => {
    const x = r();
    const k = pick(KEYS);
    if (x < 0.4) return [k, undefined];
    if (x < 0.55) return [k, '\u0000'];
    if (x < 0.7) return [k, `${k}\u00ff`];
    return [k, pick(KEYS)];
  };
  const endBytes = (end: string | undefined) =>
    end === undefined ? undefined : Buffer.from(end, 'latin1');

  const check = (ctx: string) => {
    expect(st.rev(), ctx).toBe(model.rev);
    const first = Math.max(model.compactRev, 1);
    for (let rev = first; rev <= model.rev; rev++) {
      const got = st.range(Buffer.from([0]), Buffer.from([0]), { rev });
      const want = model.range('\u0000', '\u0000', rev);
      expect(
        got.kvs.map((kv) => [
          Buffer.from(kv.key).toString('latin1'),
          {
            value: Buffer.from(kv.value).toString('latin1'),
            create: kv.createRevision,
            mod: kv.modRevision,
            version: kv.version,
            lease: kv.lease,
          },
        ]),
        `${ctx} rev ${rev}`,
      ).toEqual(want);
      const [start, end] = randomRange();
      const sub = st.range(Buffer.from(start, 'latin1'), endBytes(end), { rev, limit: 2 });
      const subWant = model.range(start, end, rev);
      expect(sub.count, `${ctx} count ${start}..${end} @${rev}`).toBe(subWant.length);
      expect(
        sub.kvs.map((kv) => Buffer.from(kv.key).toString('latin1')),
        `${ctx} range ${start}..${end} @${rev}`,
      ).toEqual(subWant.slice(0, 2).map(([k]) => k));
    }
    if (model.compactRev > 1) {
      expect(() => st.range(Buffer.from('a'), undefined, { rev: model.compactRev - 1 })).toThrow(
        CompactedError,
      );
    }
    expect(() => st.range(Buffer.from('a'), undefined, { rev: model.rev + 1 })).toThrow(
      FutureRevError,
    );
  };

  const steps = 400;
  for (let step = 0; step < steps; step++) {
    const x = r();
    const ctx = `seed ${seed} step ${step}`;
    if (x < 0.45) {
      const k = pick(KEYS);
      const v = `v${step}`;
      const lease = r() < 0.2 ? pick([1n, 2n, 3n]) : 0n;
      st.put(Buffer.from(k, 'latin1'), Buffer.from(v), lease);
      model.apply([{ put: [k, v, lease] }]);
    } else if (x < 0.6) {
      const [k, end] = randomRange();
      st.deleteRange(Buffer.from(k, 'latin1'), endBytes(end));
      model.apply([{ del: [k, end] }]);
    } else if (x < 0.8) {
      // A multi-op txn: puts and deletes interleaved, reads checked inside.
      const tw = st.write();
      const ops: Array<{ put?: [string, string, bigint]; del?: [string, string | undefined] }> = [];
      const n = 1 + Math.floor(r() * 4);
      for (let i = 0; i < n; i++) {
        if (r() < 0.7) {
          const k = pick(KEYS);
          ops.push({ put: [k, `t${step}.${i}`, 0n] });
          tw.put(Buffer.from(k, 'latin1'), Buffer.from(`t${step}.${i}`));
        } else {
          const [k, end] = randomRange();
          ops.push({ del: [k, end] });
          tw.deleteRange(Buffer.from(k, 'latin1'), endBytes(end));
        }
      }
      tw.end();
      model.apply(ops);
    } else if (x < 0.88) {
      if (model.rev > Math.max(model.compactRev, 1) && r() < 0.7) {
        const lo = Math.max(model.compactRev + 1, 1);
        const rev = lo + Math.floor(r() * (model.rev - lo + 1));
        pendingCompaction = st.compact(rev);
        model.compactRev = rev;
      }
    } else if (x < 0.93) {
      await pendingCompaction;
    } else if (x < 0.96) {
      // Restart: close mid-compaction or not; the reopened store must resume and agree.
      const rev = st.rev();
      await st.close();
      await be.close();
      be = t.backend({ batchLimit: 7 });
      // Half the restarts rebuild the index with the key-ordering thread.
      const threaded = r() < 0.5;
      st = new KVStore(be, {
        lessor,
        compactionBatchLimit: 3,
        compactionSleepInterval: 0,
        parallelRestoreBytes: threaded ? 0 : Number.POSITIVE_INFINITY,
      });
      // (The thread is only used where there is a second core for it.)
      expect(st.restoreStats.orderedByThread, ctx).toBe(threaded && availableParallelism() > 1);
      expect(st.rev(), ctx).toBe(rev);
      pendingCompaction = st.compactionIdle();
    } else {
      await new Promise((res) => setTimeout(res, 1));
    }
    check(ctx);
  }
  await pendingCompaction;
  check(`seed ${seed} end`);
  await st.close();
}, 120_000);

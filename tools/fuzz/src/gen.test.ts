import { describe, expect, it } from 'vitest';
import { epochSeed, Generator, prefixEnd } from './gen.js';
import { type JsonObject, type Op, opRpc } from './ops.js';
import { allRpcs, encode, rpc } from './proto.js';

const seed = Number(process.env.FUZZ_TEST_SEED ?? 20240601);
console.log(`gen.test seed ${seed} (FUZZ_TEST_SEED=${seed} reproduces)`);

/** Refs replaced by a number, so a generated request can be encoded as it is. */
function concrete(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(concrete);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('$lease' in o || '$member' in o) return 7;
  if ('$url' in o) return 'http://127.0.0.1:2380';
  if ('$hex' in o || '$repeat' in o) return o;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, concrete(x)]));
}

describe('the generator', () => {
  it('gives the same sequence for the same seed and epoch', () => {
    for (let e = 0; e < 5; e++) {
      const a = new Generator(seed).epoch(e);
      const b = new Generator(seed).epoch(e);
      expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    }
    // Epochs do not depend on which epochs were generated before.
    const g = new Generator(seed);
    g.epoch(0);
    expect(JSON.stringify(g.epoch(3))).toBe(JSON.stringify(new Generator(seed).epoch(3)));
  });

  it('gives other sequences for other seeds and epochs', () => {
    const a = JSON.stringify(new Generator(seed).epoch(0));
    expect(JSON.stringify(new Generator(seed + 1).epoch(0))).not.toBe(a);
    expect(JSON.stringify(new Generator(seed).epoch(1))).not.toBe(a);
    expect(new Set(Array.from({ length: 100 }, (_, i) => epochSeed(seed, i))).size).toBe(100);
  });

  it('exercises every RPC of every service', () => {
    const seen = new Set<string>();
    for (let e = 0; e < 30; e++) for (const op of new Generator(seed).epoch(e)) seen.add(opRpc(op));
    const missing = allRpcs()
      .map((r) => r.name)
      .filter((n) => !seen.has(n));
    expect(missing).toEqual([]);
    expect(seen.has('check')).toBe(true);
    expect(seen.has('close')).toBe(true);
  });

  it('writes requests that fit the .proto files', () => {
    for (let e = 0; e < 10; e++) {
      for (const op of new Generator(seed).epoch(e)) {
        if (op.kind !== 'call' && op.kind !== 'send') continue;
        expect(() => encode(rpc(op.rpc).requestType, concrete(op.req) as JsonObject)).not.toThrow();
      }
    }
  });

  it('refers to what it created: leases, users, watch ids', () => {
    const ops: Op[] = [];
    for (let e = 0; e < 10; e++) ops.push(...new Generator(seed).epoch(e));
    const json = JSON.stringify(ops);
    const leaseRefs = (json.match(/"\$lease":/g) ?? []).length;
    expect(leaseRefs).toBeGreaterThan(50);
    // Tokens of users the sequence authenticated.
    expect(ops.some((o) => o.kind === 'call' && o.auth !== undefined && 'user' in o.auth)).toBe(
      true,
    );
    // Watch cancels of ids the stream created.
    expect(json).toMatch(/"cancel_request":\{"watch_id":0\}/);
    // Edge values: > 2^53, negative, unknown enum numbers, empty keys.
    expect(json).toContain('"9007199254740993"');
    expect(json).toMatch(/-9223372036854775808/);
    expect(json).toMatch(/"sort_order":(99|-1|3|4|2147483647)/);
    expect(json).toContain('"key":""');
  });

  it('computes prefix ends as etcd does', () => {
    expect(prefixEnd('foo')).toBe('fop');
    expect(prefixEnd('')).toBe('\u0000');
    expect(prefixEnd({ $hex: 'ff' })).toBe('\u0000');
    expect(prefixEnd('a\u00ff')).toEqual({ $hex: '61c3c0' }); // UTF-8 61 c3 bf
    expect(prefixEnd({ $hex: '00ff00' })).toEqual({ $hex: '00ff01' });
    expect(prefixEnd({ $hex: '61ff' })).toBe('b');
  });
});

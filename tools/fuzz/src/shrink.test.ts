import { realEtcdAvailable } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import { Generator } from './gen.js';
import type { JsonObject, Op } from './ops.js';
import { REFERENCE_BIN, startPair } from './servers.js';
import { type Runner, runSequence } from './session.js';
import { shrink, simplify } from './shrink.js';

describe('shrink (ddmin)', () => {
  it('finds the two items a failure needs among many, in order', async () => {
    const items = Array.from({ length: 300 }, (_, i) => i);
    let tests = 0;
    const fails = async (c: number[]) => {
      tests++;
      const a = c.indexOf(17);
      const b = c.indexOf(233);
      return a >= 0 && b > a;
    };
    const r = await shrink(items, fails);
    expect(r.items).toEqual([17, 233]);
    expect(r.minimal).toBe(true);
    expect(r.tests).toBe(tests);
    expect(tests).toBeLessThan(150);
  });

  it('keeps a failure that needs everything', async () => {
    const r = await shrink([1, 2, 3], async (c) => c.length === 3);
    expect(r.items).toEqual([1, 2, 3]);
  });

  it('stops at its deadline with the smallest failing sequence so far', async () => {
    const r = await shrink(
      Array.from({ length: 64 }, (_, i) => i),
      async (c) => c.includes(5),
      { deadline: Date.now() - 1 },
    );
    expect(r.items).toContain(5);
    expect(r.minimal).toBe(false);
  });
});

describe('simplify (hierarchical)', () => {
  it('keeps only the fields and list items a failure needs', async () => {
    const req = {
      compare: [
        { key: 'a', result: 'EQUAL' },
        { key: 'x', target: 'MOD', mod_revision: 3 },
      ],
      success: [
        { request_put: { key: 'k', value: 'v', lease: { $lease: 2 } } },
        { request_range: { key: 'z' } },
      ],
      failure: [{ request_delete_range: { key: 'q' } }],
    };
    const fails = async (c: JsonObject) =>
      JSON.stringify(c).includes('"mod_revision":3') && JSON.stringify(c).includes('$lease');
    const r = await simplify(req as unknown as JsonObject, fails);
    expect(r.value).toEqual({
      compare: [{ mod_revision: 3 }],
      success: [{ request_put: { lease: { $lease: 2 } } }],
    });
  });
});

/**
 * A stand-in server: every call answers OK with what was asked. `planted` makes it answer
 * a Range differently once the sequence granted a lease and compacted (in that order).
 */
function fake(planted: boolean): Runner {
  let granted = false;
  let compacted = false;
  return {
    alive: () => true,
    process: { endpoint: 'fake', logs: () => '' },
    target: {
      run: async (op: Op): Promise<JsonObject> => {
        if (op.kind !== 'call') return {};
        if (op.rpc === 'Lease.LeaseGrant') granted = true;
        if (op.rpc === 'KV.Compact' && granted) compacted = true;
        if (op.rpc === 'KV.Range' && planted && compacted)
          return { code: 'OK', resp: { more: true } };
        return { code: 'OK', resp: {} };
      },
    },
  };
}

describe('a planted divergence', () => {
  it('is found in a generated sequence and shrunk to the three ops it needs', async () => {
    const seq = new Generator(7).epoch(0);
    const run = (ops: Op[]) =>
      runSequence({ reference: fake(false), ours: fake(true) }, ops, {
        stopAtFirst: true,
        probe: false,
      });
    const first = await run(seq);
    const f = first.findings[0];
    expect(f?.kind).toBe('divergence');
    expect(f?.signature).toBe('divergence KV.Range resp.more');
    const repro = seq.slice(0, f!.index + 1);
    const r = await shrink(repro, async (c) =>
      (await run(c)).findings.some((x) => x.signature === f!.signature),
    );
    expect(r.items.map((o) => (o.kind === 'call' ? o.rpc : o.kind))).toEqual([
      'Lease.LeaseGrant',
      'KV.Compact',
      'KV.Range',
    ]);
    expect(r.minimal).toBe(true);
  });
});

// Two of Debian's etcd 3.4 side by side must never diverge: everything that differs between
// two members (ids, tokens, sizes, timings) is normalised, or the comparer is wrong.
describe.runIf(realEtcdAvailable(REFERENCE_BIN))('etcd 3.4 against itself', () => {
  it('answers a generated sequence the same after normalising', { timeout: 120_000 }, async () => {
    const pair = await startPair(REFERENCE_BIN);
    try {
      const seq = new Generator(11, { opsPerEpoch: 150 }).epoch(0);
      const r = await runSequence(pair, seq, { probe: false });
      const undocumented = r.findings.filter((f) => f.documented === undefined);
      expect(undocumented.map((f) => `${f.signature}: ${JSON.stringify(f.differences)}`)).toEqual(
        [],
      );
      expect(r.executed).toBeGreaterThan(100);
    } finally {
      await pair.stop();
    }
  });
});

// The deterministic simulation over many seeds. SEEDS=n chooses how many
// (default 1000), SEED=n runs just that seed; a failure prints the seed and
// the trace that leads to it.

import { describe, expect, it } from 'vitest';
import { runSeed, SimulationFailure } from './sim.js';

const only = process.env.SEED;
const count = only !== undefined ? 1 : Number(process.env.SEEDS ?? 1000);
const first = only !== undefined ? Number(only) : 1;

describe('simulation', () => {
  it(`keeps Raft's safety properties and recovers after healing (seeds ${first}..${first + count - 1})`, () => {
    console.log(`simulation seeds ${first}..${first + count - 1} (set SEED=n to replay one)`);
    let committed = 0;
    for (let seed = first; seed < first + count; seed++) {
      try {
        committed += runSeed(seed, {
          traceLines: Number(process.env.TRACE_LINES ?? 300),
        }).committed;
      } catch (err) {
        if (err instanceof SimulationFailure) {
          console.error(err.report());
          throw new Error(`seed ${seed} failed: ${err.message} (replay with SEED=${seed})`);
        }
        throw err;
      }
    }
    expect(committed).toBeGreaterThan(count * 10);
  }, 600_000);

  it('replays a seed identically', () => {
    expect(runSeed(7)).toEqual(runSeed(7));
  });
});

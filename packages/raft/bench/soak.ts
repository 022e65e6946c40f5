// Runs the deterministic simulation over many seeds: SEEDS=n (default
// 100000) seeds starting at SEED_START (default 1), or one seed with SEED=n.
// A progress bar goes to stderr; a failing seed prints its trace (the last
// TRACE_LINES lines, default 300) and exits 1.

import { runSeed, SimulationFailure } from '../src/sim/sim.js';

const one = process.env.SEED;
const seeds = one !== undefined ? 1 : Number(process.env.SEEDS ?? 100_000);
const first = one !== undefined ? Number(one) : Number(process.env.SEED_START ?? 1);

const started = Date.now();
let committed = 0;
let reads = 0;
let leaders = 0;
let confChanges = 0;
let crashes = 0;
const width = 40;

function bar(done: number): void {
  const frac = done / seeds;
  const filled = Math.round(frac * width);
  const elapsed = (Date.now() - started) / 1000;
  const rate = done / Math.max(elapsed, 0.001);
  const eta = (seeds - done) / Math.max(rate, 0.001);
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${seeds} seeds  ${rate.toFixed(0)}/s  eta ${eta.toFixed(0)}s `,
  );
}

for (let i = 0; i < seeds; i++) {
  const seed = first + i;
  try {
    const s = runSeed(seed, { traceLines: Number(process.env.TRACE_LINES ?? 300) });
    committed += s.committed;
    reads += s.reads;
    leaders += s.leaders;
    confChanges += s.confChanges;
    crashes += s.crashes;
  } catch (err) {
    process.stderr.write('\n');
    if (err instanceof SimulationFailure) {
      console.error(err.report());
    } else {
      console.error(`seed ${seed}:`, err);
    }
    process.exit(1);
  }
  if (i % 20 === 0 || i === seeds - 1) bar(i + 1);
}
process.stderr.write('\n');
console.log(
  `${seeds} seeds passed in ${((Date.now() - started) / 1000).toFixed(1)}s: ${committed} entries committed, ${reads} reads checked, ${leaders} leaders elected, ${confChanges} membership changes, ${crashes} crashes`,
);

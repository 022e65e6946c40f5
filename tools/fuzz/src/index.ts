/**
 * @etcd-ts/fuzz: the seeded differential fuzzer of apps/etcd against Debian's etcd 3.4 and
 * the raw abuse of apps/etcd. The `etcd-fuzz` bin is the usual entry; these are its parts.
 */
export { type AbuseResult, runAbuse, SCENARIO_NAMES } from './abuse.js';
export { type Difference, diff, pathShape } from './compare.js';
export {
  DIVERGENCES,
  type DivergenceContext,
  type DocumentedDivergence,
  documentedDivergence,
  MATCHERS,
} from './divergences.js';
export { epochSeed, Generator, type GeneratorOptions, prefixEnd } from './gen.js';
export { type FuzzOptions, fuzz, main, parseArgs, replay } from './main.js';
export { IdLabels, Normaliser, type ServerIdentity } from './normalise.js';
export * from './ops.js';
export { allRpcs, decode, encode, type Rpc, rpc } from './proto.js';
export {
  defaultServerBin,
  LIMITS,
  type Pair,
  PairPool,
  REFERENCE_BIN,
  type Server,
  serverArgs,
  startPair,
  startServer,
} from './servers.js';
export { type Finding, type FindingKind, probe, type RunResult, runSequence } from './session.js';
export { type ShrinkOptions, type ShrinkResult, shrink } from './shrink.js';
export { Target } from './target.js';

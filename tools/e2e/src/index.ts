export {
  CLIENTS,
  DEBIAN_ETCD,
  DEBIAN_ETCDCTL,
  makeBinDir,
  OUR_ETCD,
  OUR_ETCDCTL,
  REPO_ROOT,
  resolveBin,
  SERVERS,
} from './bins.js';
export { CI_TESTS } from './ci_tests.js';
export { main } from './main.js';
export { findMarked, isMarked, killGroup, killMarked, type Marks } from './procs.js';
export {
  killRunning,
  LEAK_CHECK_LINE,
  MARK_VAR,
  onlyLeakCheckFailed,
  type RunOptions,
  runTest,
} from './run_test.js';
export {
  type Exclusion,
  exclusionOf,
  OUT_OF_SCOPE,
  parseTestList,
  type Selection,
  type SelectOptions,
  selectTests,
} from './select.js';
export {
  DEBIAN_ETCD_SRC,
  DEBIAN_GO,
  DEBIAN_GOPATH,
  defaultCacheDir,
  defaultSource,
  ensureSuite,
  etcdVersionOf,
  listTests,
  missingToolchain,
  type Suite,
  type SuiteSource,
} from './suite.js';
export {
  type Counts,
  countOf,
  lastLines,
  type Result,
  summaryLine,
  type Verdict,
  VerdictFile,
  type Verdicts,
} from './verdict.js';

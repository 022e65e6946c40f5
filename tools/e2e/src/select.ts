/** A test of etcd's e2e suite that the runner never runs, and why. */
export interface Exclusion {
  readonly pattern: RegExp;
  readonly reason: string;
}

/**
 * The tests of etcd 3.4's tests/e2e that are out of scope for etcd-ts. Everything else the
 * suite lists is a v3 test: the suite starts etcd without `--enable-v2` except in the
 * TestCtlV2* tests, and only TestCtlV3Migrate sets ETCDCTL_API=2.
 */
export const OUT_OF_SCOPE: readonly Exclusion[] = [
  { pattern: /^TestCtlV2/, reason: 'etcdctl against the v2 API (--enable-v2)' },
  { pattern: /^TestV2Curl/, reason: 'the v2 HTTP API (/v2/keys) with curl' },
  {
    pattern: /^TestCtlV3Migrate$/,
    reason: 'writes v2 keys with ETCDCTL_API=2 and migrates the v2 store (needs the v2 API)',
  },
  { pattern: /^TestGateway$/, reason: "etcd's gateway subcommand" },
  { pattern: /^TestGrpcproxy/, reason: "etcd's grpc-proxy subcommand" },
  {
    pattern: /^TestEtcdCorruptHash$/,
    reason: "corrupts the member's bbolt file in place and expects etcd's corruption check",
  },
  {
    pattern: /^TestReleaseUpgrade/,
    reason: 'needs an etcd-last-release (3.3) binary in the bin dir',
  },
  {
    pattern: /^TestEtcdExampleConfig$/,
    reason:
      "starts etcd with ../../etcd.conf.yml.sample, which Debian's golang-etcd-server-dev does not ship (fails on any server)",
  },
];

/** Why `name` is out of scope, or undefined when it is run. */
export function exclusionOf(
  name: string,
  exclusions: readonly Exclusion[] = OUT_OF_SCOPE,
): string | undefined {
  return exclusions.find((e) => e.pattern.test(name))?.reason;
}

export interface Selection {
  /** The tests to run, in the suite's order. */
  readonly selected: string[];
  /** The suite's tests left out as out of scope, with the reason. */
  readonly excluded: { name: string; reason: string }[];
}

export interface SelectOptions {
  /** Keep only the tests this matches (Go's -run semantics: unanchored). */
  readonly regex?: RegExp;
  /** Keep only these names (the CI list); a name the suite does not list is an error. */
  readonly only?: readonly string[];
  /** Keep the i-th of n interleaved shards (1-based), to run a part of the suite. */
  readonly shard?: { index: number; count: number };
  readonly exclusions?: readonly Exclusion[];
}

/** Parses `go test -test.list` output: one test name a line, with `ok`/benchmark lines ignored. */
export function parseTestList(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(Test|Example)\w*$/.test(l));
}

/**
 * The tests to run out of the suite's list: the out-of-scope tests removed, then narrowed by
 * `only`, `regex` and `shard`, in that order.
 */
export function selectTests(all: readonly string[], opts: SelectOptions = {}): Selection {
  const excluded: { name: string; reason: string }[] = [];
  let selected: string[] = [];
  for (const name of all) {
    const reason = exclusionOf(name, opts.exclusions);
    if (reason !== undefined) excluded.push({ name, reason });
    else selected.push(name);
  }
  if (opts.only !== undefined) {
    const listed = new Set(all);
    const missing = opts.only.filter((n) => !listed.has(n));
    if (missing.length > 0) throw new Error(`not in the suite's list: ${missing.join(', ')}`);
    const keep = new Set(opts.only);
    selected = selected.filter((n) => keep.has(n));
  }
  if (opts.regex !== undefined) {
    const re = opts.regex;
    selected = selected.filter((n) => re.test(n));
  }
  if (opts.shard !== undefined) {
    const { index, count } = opts.shard;
    if (!(Number.isInteger(count) && count >= 1 && index >= 1 && index <= count))
      throw new Error(`bad shard ${index}/${count}`);
    selected = selected.filter((_, i) => i % count === index - 1);
  }
  return { selected, excluded };
}

import { describe, expect, it } from 'vitest';
import { CI_TESTS } from './ci_tests.js';
import { exclusionOf, OUT_OF_SCOPE, parseTestList, selectTests } from './select.js';

// A slice of etcd 3.4.23's `e2e.test -test.list .*`, in its order.
const LIST = [
  'TestCtlV2Set',
  'TestCtlV2AuthWithCommonName',
  'TestCtlV3Alarm',
  'TestCtlV3AuthEnable',
  'TestCtlV3Put',
  'TestCtlV3PutNoTLS',
  'TestCtlV3Migrate',
  'TestCtlV3Watch',
  'TestEtcdExampleConfig',
  'TestEtcdMultiPeer',
  'TestGrpcproxyAndCommonName',
  'TestGrpcproxyAndListenCipherSuite',
  'TestEtcdCorruptHash',
  'TestReleaseUpgrade',
  'TestReleaseUpgradeWithRestart',
  'TestGateway',
  'TestV3MetricsInsecure',
  'TestV2CurlNoTLS',
  'TestV2CurlIssue5182',
  'TestV3CurlPutGetNoTLS',
];

describe('parseTestList', () => {
  it('keeps the test names and drops anything else go test prints', () => {
    const out =
      'TestA\nTestB_Sub\n\nok  \tgo.etcd.io/etcd/tests/e2e\t0.01s\nBenchmarkX\nExampleY\n';
    expect(parseTestList(out)).toEqual(['TestA', 'TestB_Sub', 'ExampleY']);
  });
});

describe('selectTests', () => {
  it('leaves out the v2, proxy, gateway, corruption and upgrade tests, each with its reason', () => {
    const { selected, excluded } = selectTests(LIST);
    expect(selected).toEqual([
      'TestCtlV3Alarm',
      'TestCtlV3AuthEnable',
      'TestCtlV3Put',
      'TestCtlV3PutNoTLS',
      'TestCtlV3Watch',
      'TestEtcdMultiPeer',
      'TestV3MetricsInsecure',
      'TestV3CurlPutGetNoTLS',
    ]);
    expect(excluded.map((e) => e.name)).toEqual([
      'TestCtlV2Set',
      'TestCtlV2AuthWithCommonName',
      'TestCtlV3Migrate',
      'TestEtcdExampleConfig',
      'TestGrpcproxyAndCommonName',
      'TestGrpcproxyAndListenCipherSuite',
      'TestEtcdCorruptHash',
      'TestReleaseUpgrade',
      'TestReleaseUpgradeWithRestart',
      'TestGateway',
      'TestV2CurlNoTLS',
      'TestV2CurlIssue5182',
    ]);
    for (const e of excluded) expect(e.reason).toBe(exclusionOf(e.name));
    expect(exclusionOf('TestCtlV3Migrate')).toMatch(/v2/);
  });

  it('narrows by a regex the way go test -run does (unanchored)', () => {
    expect(selectTests(LIST, { regex: /Put/ }).selected).toEqual([
      'TestCtlV3Put',
      'TestCtlV3PutNoTLS',
      'TestV3CurlPutGetNoTLS',
    ]);
    expect(selectTests(LIST, { regex: /^TestCtlV3Put$/ }).selected).toEqual(['TestCtlV3Put']);
    // A regex never brings an out-of-scope test back.
    expect(selectTests(LIST, { regex: /V2/ }).selected).toEqual([]);
  });

  it('keeps only the listed names, and refuses a name the suite does not have', () => {
    expect(selectTests(LIST, { only: ['TestCtlV3Watch', 'TestCtlV3Put'] }).selected).toEqual([
      'TestCtlV3Put',
      'TestCtlV3Watch',
    ]);
    expect(() => selectTests(LIST, { only: ['TestNoSuch'] })).toThrow(/TestNoSuch/);
    expect(selectTests(LIST, { only: ['TestCtlV3Put'], regex: /Watch/ }).selected).toEqual([]);
  });

  it('splits the selection into interleaved shards that cover it exactly once', () => {
    const all = selectTests(LIST).selected;
    const parts = [1, 2, 3].map(
      (index) => selectTests(LIST, { shard: { index, count: 3 } }).selected,
    );
    expect(parts[0]).toEqual(['TestCtlV3Alarm', 'TestCtlV3PutNoTLS', 'TestV3MetricsInsecure']);
    expect(parts.flat().sort()).toEqual([...all].sort());
    expect(() => selectTests(LIST, { shard: { index: 4, count: 3 } })).toThrow(/shard/);
  });

  it('the CI subset has no out-of-scope test and no duplicate', () => {
    for (const name of CI_TESTS) expect(exclusionOf(name)).toBeUndefined();
    expect(new Set(CI_TESTS).size).toBe(CI_TESTS.length);
    for (const e of OUT_OF_SCOPE) expect(e.reason.length).toBeGreaterThan(0);
  });
});

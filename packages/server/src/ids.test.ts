import { describe, expect, it } from 'vitest';
import { computeClusterId, computeMemberId, idToHex, RequestIdGenerator } from './ids.js';

describe('ids', () => {
  it('derives the ids etcd derives for its default single member', () => {
    // `etcd` with no flags: default=http://localhost:2380, token etcd-cluster.
    const m = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
    expect(idToHex(m)).toBe('8e9e05c52164694d');
    expect(idToHex(computeClusterId([m]))).toBe('cdf818194e3a8c32');
  });

  it('sorts peer URLs before hashing', () => {
    const a = computeMemberId(['http://b:2380', 'http://a:2380'], 't');
    const b = computeMemberId(['http://a:2380', 'http://b:2380'], 't');
    expect(a).toBe(b);
    expect(computeMemberId(['http://a:2380'], 't', 1)).not.toBe(
      computeMemberId(['http://a:2380'], 't'),
    );
  });

  it('makes request ids with the member prefix and an increasing counter', () => {
    const g = new RequestIdGenerator(0x8e9e05c52164694dn, 1_700_000_000_000);
    const a = g.next();
    const b = g.next();
    expect(b - a).toBe(1n);
    expect(a >> 48n).toBe(0x694dn);
  });
});

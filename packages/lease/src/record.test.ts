import { leasepb } from '@etcd-ts/api';
import { describe, expect, it } from 'vitest';
import { encodeLeaseRecord } from './record.js';

describe('encodeLeaseRecord', () => {
  it('is byte-identical to the generated leasepb.Lease encoder', () => {
    const ids = [0n, 1n, 127n, 128n, 2n ** 32n, 2n ** 53n + 3n, 2n ** 63n - 1n, -1n, -(2n ** 63n)];
    const ttls = [0, 1, 5, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, 9_000_000_000, -1, -300];
    for (const ID of ids) {
      for (const TTL of ttls) {
        for (const RemainingTTL of [0, 3, 16_384, -7]) {
          const want = Buffer.from(leasepb.Lease.encode({ ID, TTL, RemainingTTL }).finish());
          expect(encodeLeaseRecord(ID, TTL, RemainingTTL).toString('hex')).toBe(
            want.toString('hex'),
          );
        }
      }
    }
  });

  it('writes the bytes etcd writes', () => {
    expect(encodeLeaseRecord(1n, 60, 0).toString('hex')).toBe('0801103c');
    expect(encodeLeaseRecord(2n ** 63n - 1n, 5, 2).toString('hex')).toBe(
      '08ffffffffffffffff7f10051802',
    );
  });
});

import { mvccpb } from '@etcd-ts/api';
import { rng } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeKeyValue,
  decodeKeyValueFields,
  encodeKeyValue,
  encodeKeyValueParts,
  keyValueSize,
} from './codec.js';
import { bytesToRev, isTombstone, revToBytes } from './revision.js';

describe('KeyValue codec', () => {
  it('encodes byte-identically to the generated mvccpb codec and decodes both ways', () => {
    const seed = Number(process.env.MVCC_SEED ?? Date.now() % 1e9);
    const r = rng(seed);
    const ints = [
      0,
      1,
      127,
      128,
      16383,
      16384,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32,
      2 ** 40 + 5,
      Number.MAX_SAFE_INTEGER,
    ];
    const leases = [
      0n,
      1n,
      127n,
      2n ** 53n,
      2n ** 63n - 1n,
      -1n,
      -(2n ** 63n),
      0x694d77ab12cd3e01n,
    ];
    const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
    for (let i = 0; i < 2000; i++) {
      const kv: mvccpb.KeyValue = {
        key: Buffer.alloc(Math.floor(r() * 3) === 0 ? 0 : Math.floor(r() * 300), i & 0xff),
        createRevision: pick(ints),
        modRevision: pick(ints),
        version: pick(ints),
        value: Buffer.alloc(Math.floor(r() * 2) === 0 ? 0 : Math.floor(r() * 20000), 7),
        lease: pick(leases),
      };
      const want = Buffer.from(mvccpb.KeyValue.encode(kv).finish());
      const got = encodeKeyValue(kv);
      expect(got.equals(want), `seed ${seed} case ${i}`).toBe(true);
      const parts = encodeKeyValueParts(
        kv.key,
        kv.value,
        kv.createRevision,
        kv.modRevision,
        kv.version,
        kv.lease,
      );
      expect(parts.equals(want), `seed ${seed} case ${i} (parts)`).toBe(true);
      const f = decodeKeyValueFields(want);
      expect(Buffer.from(want.subarray(f.keyStart, f.keyEnd)).equals(Buffer.from(kv.key))).toBe(
        true,
      );
      expect([f.createRevision, f.modRevision, f.version, f.lease]).toEqual([
        kv.createRevision,
        kv.modRevision,
        kv.version,
        kv.lease,
      ]);
      expect(keyValueSize(kv)).toBe(want.length);
      const back = decodeKeyValue(want);
      expect(Buffer.from(back.key).equals(Buffer.from(kv.key))).toBe(true);
      expect(Buffer.from(back.value).equals(Buffer.from(kv.value))).toBe(true);
      expect([back.createRevision, back.modRevision, back.version, back.lease]).toEqual([
        kv.createRevision,
        kv.modRevision,
        kv.version,
        kv.lease,
      ]);
    }
  });

  it('copies key and value out of a transient buffer by default', () => {
    const enc = encodeKeyValue({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      lease: 0n,
    });
    const kv = decodeKeyValue(enc);
    enc.fill(0);
    expect(Buffer.from(kv.key).toString()).toBe('k');
  });

  it('skips fields it does not know, of every wire type', () => {
    const kv = encodeKeyValue({
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      createRevision: 5,
      modRevision: 6,
      version: 2,
      lease: 0n,
    });
    // field 9 varint, field 10 length-delimited (3 bytes), field 11 fixed32, field 12 fixed64
    const extra = Buffer.from([
      0x48, 0x96, 0x01, 0x52, 0x03, 1, 2, 3, 0x5d, 0, 0, 0, 0, 0x61, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    const back = decodeKeyValue(Buffer.concat([extra, kv, extra]));
    expect([
      Buffer.from(back.key).toString(),
      Buffer.from(back.value).toString(),
      back.version,
    ]).toEqual(['k', 'v', 2]);
    const f = decodeKeyValueFields(Buffer.concat([extra, kv]));
    expect([f.createRevision, f.modRevision]).toEqual([5, 6]);
  });

  it('refuses truncated input', () => {
    const enc = encodeKeyValue({
      key: Buffer.from('key'),
      value: Buffer.from('value'),
      createRevision: 300,
      modRevision: 300,
      version: 1,
      lease: 0n,
    });
    expect(() => decodeKeyValue(enc.subarray(0, enc.length - 2))).toThrow(/truncated/);
  });
});

describe('revision bytes', () => {
  it('are 8-byte big-endian main, "_", 8-byte big-endian sub, then "t" for tombstones', () => {
    const b = revToBytes(0x0102030405, 7);
    expect(b.toString('hex')).toBe('00000001020304055f0000000000000007');
    expect(bytesToRev(b)).toEqual({ main: 0x0102030405, sub: 7 });
    const t = revToBytes(9, 1, true);
    expect(t.length).toBe(18);
    expect(String.fromCharCode(t[17]!)).toBe('t');
    expect(isTombstone(t)).toBe(true);
    expect(isTombstone(b)).toBe(false);
    expect(Buffer.compare(revToBytes(2, 0), revToBytes(10, 0))).toBe(-1);
    expect(Buffer.compare(revToBytes(2, 300), revToBytes(3, 0))).toBe(-1);
  });
});

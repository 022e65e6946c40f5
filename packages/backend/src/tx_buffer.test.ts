import { rng } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import { TxBuffer } from './tx_buffer.js';

const key = (n: number) => Buffer.from(`k${String(n).padStart(4, '0')}`);
const hex = (b: Uint8Array | null | undefined) =>
  b === undefined ? 'absent' : b === null ? 'deleted' : Buffer.from(b).toString('hex');

describe('TxBuffer', () => {
  it('keeps sequential puts in the log and answers lookups below it without a match', () => {
    const buf = new TxBuffer();
    for (let i = 10; i < 20; i++) buf.seqPut('key', key(i), Buffer.from([i]));
    expect(buf.pending).toBe(10);
    expect(hex(buf.bucket('key')!.get(key(15)))).toBe('0f');
    expect(buf.bucket('key')!.get(key(5))).toBeUndefined();
    expect(buf.bucket('key')!.get(key(25))).toBeUndefined();
    // A delete inside the log's span shadows the put; one below it goes to the map.
    buf.delete('key', key(12));
    buf.delete('key', key(3));
    expect(buf.bucket('key')!.get(key(12))).toBeNull();
    expect(buf.bucket('key')!.get(key(3))).toBeNull();
    const drained = buf.drain();
    expect(drained.map((d) => d.writes.map(([k, v]) => `${k.toString()}=${hex(v)}`))).toEqual([
      [
        'k0003=deleted',
        ...Array.from({ length: 10 }, (_, j) =>
          j === 2 ? 'k0012=deleted' : `k00${10 + j}=${hex(Buffer.from([10 + j]))}`,
        ),
      ],
    ]);
    expect(buf.pending).toBe(0);
    expect(buf.bucket('key')).toBeUndefined();
  });

  it('copies sequential values: the caller may reuse its buffer', () => {
    const buf = new TxBuffer();
    const v = Buffer.from('aaaa');
    buf.seqPut('key', key(1), v);
    v.fill(0x62);
    buf.seqPut('key', key(2), v);
    expect(Buffer.from(buf.bucket('key')!.get(key(1))!).toString()).toBe('aaaa');
    expect(Buffer.from(buf.bucket('key')!.get(key(2))!).toString()).toBe('bbbb');
  });

  it('matches a plain map under random sequential puts, puts and deletes', () => {
    const seed = Number(process.env.TXBUFFER_SEED ?? Date.now() % 1_000_000);
    console.log(`TxBuffer model seed ${seed} (TXBUFFER_SEED=${seed} replays it)`);
    const rand = rng(seed);
    for (let round = 0; round < 20; round++) {
      const buf = new TxBuffer();
      const model = new Map<string, string | null>();
      let next = Math.floor(rand() * 50);
      for (let op = 0; op < 400; op++) {
        const r = rand();
        const value = Buffer.from([Math.floor(rand() * 256), op & 0xff]);
        let k: Buffer;
        if (r < 0.6) {
          // Mostly increasing, sometimes repeating or going back.
          next += rand() < 0.9 ? 1 + Math.floor(rand() * 3) : -Math.floor(rand() * 20);
          k = key(Math.max(0, next));
          buf.seqPut('b', k, value);
          model.set(k.toString('latin1'), value.toString('hex'));
        } else if (r < 0.8) {
          k = key(Math.floor(rand() * (next + 10)));
          buf.put('b', k, Buffer.from(value));
          model.set(k.toString('latin1'), value.toString('hex'));
        } else {
          k = key(Math.floor(rand() * (next + 10)));
          buf.delete('b', k);
          model.set(k.toString('latin1'), null);
        }
        if (op % 37 === 0) {
          const probe = key(Math.floor(rand() * (next + 20)));
          const want = model.get(probe.toString('latin1'));
          const got = buf.bucket('b')?.get(probe);
          expect(hex(got), `seed ${seed} probe ${probe}`).toBe(
            want === undefined ? 'absent' : want === null ? 'deleted' : want,
          );
        }
      }
      const lo = key(Math.floor(rand() * next));
      const hi = key(Math.floor(rand() * next) + next / 2);
      const expected = [...model.entries()]
        .filter(([k]) => k >= lo.toString('latin1') && k < hi.toString('latin1'))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v === null ? 'deleted' : v}`);
      const ranged = buf.rangeOf('b', lo, hi).map(([k, v]) => `${k.toString('latin1')}=${hex(v)}`);
      expect(ranged, `seed ${seed}`).toEqual(expected);
      const all = [...model.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v === null ? 'deleted' : v}`);
      expect(buf.pending).toBe(400);
      const drained = buf.drain()[0]!.writes.map(([k, v]) => `${k.toString('latin1')}=${hex(v)}`);
      expect(drained, `seed ${seed}`).toEqual(all);
    }
  });
});

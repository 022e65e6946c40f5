import { expect, it } from 'vitest';
import { rng, testSeed } from '../test/util.js';
import { KeyTable } from './key_table.js';

interface Entry {
  key: string;
  n: number;
}

/** The entry for key bytes b, if any. */
function entryOf<V>(table: KeyTable<V>, b: Uint8Array): V | undefined {
  const o = table.findHashed(table.hash(b, 0, b.length), b, 0, b.length);
  return o < 0 ? undefined : table.at(o);
}

it('finds, adds and removes exactly what a Map would, through growth and backward shifts', () => {
  const seed = testSeed('key table');
  const r = rng(seed);
  const table = new KeyTable<Entry>();
  const model = new Map<string, Entry>();
  // Short keys over a small alphabet (with 0x00 and 0xff bytes) so that lookups hit, miss
  // and collide in long probe runs; the table grows from 1,024 slots several times.
  const alphabet = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff];
  const randomKey = (): Buffer => {
    const len = Math.floor(r() * 7);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = alphabet[Math.floor(r() * alphabet.length)]!;
    return b;
  };
  for (let step = 0; step < 60_000; step++) {
    const b = randomKey();
    const key = b.toString('latin1');
    const want = model.get(key);
    // Lookups by the bytes, by a window of a bigger buffer, and by the string agree.
    expect(entryOf(table, b)).toBe(want);
    const framed = Buffer.concat([Buffer.from([0x99, 0x98]), b, Buffer.from([0x97])]);
    const h = table.hash(framed, 2, 2 + b.length);
    expect(h).toBe(table.hash(b, 0, b.length));
    const o = table.findHashed(h, framed, 2, 2 + b.length);
    expect(o < 0 ? undefined : table.at(o)).toBe(want);
    expect(table.findString(key)).toBe(o);
    if (want === undefined && r() < 0.7) {
      const e = { key, n: step };
      expect(table.add(e, h, framed, 2, 2 + b.length)).toBe(table.findString(key));
      table.setNumbers(table.findString(key), step, step & 7, step + 1, step + 2);
      model.set(key, e);
    } else if (want !== undefined && r() < 0.5) {
      table.deleteAt(o);
      expect(table.findString(key)).toBe(-1);
      expect(() => table.deleteAt(o)).toThrow(/no entry/);
      model.delete(key);
    }
    expect(table.size).toBe(model.size);
  }
  // Nothing is lost or duplicated: every live entry once, and each found by its key.
  const values: Entry[] = [];
  for (let o = 0; o < table.ordinals; o++) if (table.at(o) !== undefined) values.push(table.at(o));
  expect(values.length).toBe(model.size);
  expect(new Set(values)).toEqual(new Set(model.values()));
  for (const e of values) {
    const o = table.findString(e.key);
    expect(table.at(o)).toBe(e);
    // The numbers kept with each entry follow it through growth and backward shifts.
    expect([table.main(o), table.sub(o), table.created(o), table.ver(o)]).toEqual([
      e.n,
      e.n & 7,
      e.n + 1,
      e.n + 2,
    ]);
    expect(table.keyString(o)).toBe(e.key);
  }
});

it('holds a million keys and reuses the ordinals of removed entries', () => {
  const table = new KeyTable<string>();
  const b = Buffer.alloc(8);
  let misnumbered = 0;
  for (let i = 0; i < 1_000_000; i++) {
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(i * 7, 4);
    if (table.add(b.toString('latin1'), table.hash(b, 0, 8), b, 0, 8) !== i) misnumbered++;
  }
  expect(misnumbered).toBe(0);
  for (let i = 0; i < 1_000_000; i += 97_001) {
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(i * 7, 4);
    expect(entryOf(table, b)).toBe(b.toString('latin1'));
  }
  b.writeUInt32BE(5, 0);
  b.writeUInt32BE(35, 4);
  table.deleteAt(table.findString(b.toString('latin1')));
  expect(entryOf(table, b)).toBeUndefined();
  const again = Buffer.from('again');
  expect(table.add('again', table.hash(again, 0, 5), again, 0, 5)).toBe(5);
  expect(entryOf(table, again)).toBe('again');
  expect(table.size).toBe(1_000_000);
});

it('drops removed keys from its arena instead of growing without bound', () => {
  const table = new KeyTable<number>();
  const key = Buffer.alloc(1000);
  // 100 MB of keys added and removed over time, at most 10 live at once.
  for (let i = 0; i < 100_000; i++) {
    key.writeUInt32BE(i, 0);
    table.add(i, table.hash(key, 0, key.length), key, 0, key.length);
    if (i >= 10) {
      key.writeUInt32BE(i - 10, 0);
      const o = table.findHashed(table.hash(key, 0, key.length), key, 0, key.length);
      expect(table.at(o)).toBe(i - 10);
      table.deleteAt(o);
    }
  }
  expect(table.size).toBe(10);
  for (let i = 99_990; i < 100_000; i++) {
    key.writeUInt32BE(i, 0);
    expect(entryOf(table, key)).toBe(i);
  }
  const arena = (table as unknown as { arena: Buffer }).arena;
  expect(arena.length).toBeLessThanOrEqual(64 * 1024);
});

import { createHash } from 'node:crypto';
import { rng } from '@etcd-ts/testing';
import { describe, expect, it } from 'vitest';
import { decodeMeta, encodeMetaPage } from './format.js';
import {
  BoltError,
  BoltReader,
  boltLayout,
  bucketsFromEntries,
  writeBolt,
  writeBoltBytes,
} from './index.js';

/** Moves both metas' high-water mark by `pages` (checksums recomputed). */
function bumpHighWater(file: Buffer, pages: number): void {
  for (const id of [0, 1] as const) {
    const meta = decodeMeta(file.subarray(id * 4096, (id + 1) * 4096));
    if (typeof meta !== 'object') throw new Error(meta);
    file.set(encodeMetaPage(id, { ...meta, pgid: meta.pgid + BigInt(pages) }), id * 4096);
  }
}

type Pairs = [Uint8Array, Uint8Array][];

function readBack(file: Uint8Array): { name: string; entries: Pairs }[] {
  const db = BoltReader.fromBytes(file);
  return [...db.buckets()].map((b) => ({
    name: Buffer.from(b.name).toString('latin1'),
    entries: [...b.pairs()].map(
      ([k, v]) => [Buffer.from(k), Buffer.from(v)] as [Uint8Array, Uint8Array],
    ),
  }));
}

/** A digest of buckets and their entries, cheap to compare. */
function fingerprint(buckets: { name: string; entries: Pairs }[]): string {
  const h = createHash('sha256');
  for (const b of buckets) {
    h.update(`${b.name}:${b.entries.length};`);
    for (const [k, v] of b.entries) h.update(`${k.length},${v.length};`).update(k).update(v);
  }
  return h.digest('hex');
}

describe('writeBolt / BoltReader', () => {
  it('round-trips etcd-shaped buckets and passes the page check', () => {
    const key = (main: number) => {
      const b = Buffer.alloc(17);
      b.writeBigUInt64BE(BigInt(main), 0);
      b[8] = 0x5f;
      return b;
    };
    const keyEntries: Pairs = [];
    for (let i = 1; i <= 5000; i++) keyEntries.push([key(i), Buffer.from(`value-${i}`.repeat(3))]);
    const input = [
      { name: 'key', entries: keyEntries },
      { name: 'meta', entries: [[Buffer.from('consistent_index'), Buffer.alloc(8, 1)]] as Pairs },
      { name: 'members', entries: [] as Pairs },
      { name: 'alarm', entries: [] as Pairs },
    ];
    const file = writeBoltBytes(bucketsFromEntries(input));
    expect(file.length % 4096).toBe(0);
    const db = BoltReader.fromBytes(file);
    expect(db.check()).toEqual([]);
    expect(db.size).toBe(file.length);
    expect(db.metaPage).toBe(1);
    const back = readBack(file);
    expect(back.map((b) => b.name)).toEqual(['alarm', 'key', 'members', 'meta']);
    expect(back[1]!.entries).toEqual(keyEntries.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
    // Small buckets sit inline in the root leaf, as bbolt keeps them.
    expect(db.bucket('meta')!.inline).toBe(true);
    expect(db.bucket('key')!.inline).toBe(false);
    expect(boltLayout(bucketsFromEntries(input)).size).toBe(file.length);
  });

  it('streams in bounded chunks whose concatenation is the file', () => {
    const entries: Pairs = [];
    for (let i = 0; i < 20_000; i++)
      entries.push([Buffer.from(`k${String(i).padStart(8, '0')}`), Buffer.alloc(40, i)]);
    const chunks = [
      ...writeBolt(bucketsFromEntries([{ name: 'key', entries }]), { chunkBytes: 16 * 1024 }),
    ];
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeLessThanOrEqual(16 * 1024 + 4096);
    const db = BoltReader.fromBytes(Buffer.concat(chunks));
    expect(db.check()).toEqual([]);
    expect([...db.bucket('key')!.pairs()].length).toBe(20_000);
  });

  it('round-trips random buckets (large values in overflow pages, deep trees, empty buckets)', () => {
    const seed = Number(process.env.BBOLT_SEED ?? Date.now() % 2 ** 31);
    console.log(`bbolt random round trip: BBOLT_SEED=${seed}`);
    const rand = rng(seed);
    for (let round = 0; round < 8; round++) {
      const pageSize = [1024, 4096, 4096, 16384][Math.floor(rand() * 4)]!;
      const buckets: { name: string; entries: Pairs }[] = [];
      const names = new Set<string>();
      const nb = 1 + Math.floor(rand() * 6);
      while (names.size < nb) names.add(`b${Math.floor(rand() * 1000)}`);
      for (const name of names) {
        const n = [0, 1, 5, 300, 3000][Math.floor(rand() * 5)]!;
        const keys = new Map<string, Uint8Array>();
        while (keys.size < n) {
          const k = Buffer.alloc(1 + Math.floor(rand() * (rand() < 0.05 ? 2000 : 30)));
          for (let i = 0; i < k.length; i++) k[i] = Math.floor(rand() * 256);
          const big = rand() < 0.02;
          const v = Buffer.alloc(
            big ? Math.floor(rand() * 5 * pageSize) : Math.floor(rand() * 100),
          );
          for (let i = 0; i < v.length; i += 97) v[i] = Math.floor(rand() * 256);
          keys.set(k.toString('hex'), v);
        }
        const entries = [...keys.entries()]
          .map(([k, v]) => [Buffer.from(k, 'hex'), v] as [Uint8Array, Uint8Array])
          .sort((a, b) => Buffer.compare(a[0], b[0]));
        buckets.push({ name, entries });
      }
      const file = writeBoltBytes(bucketsFromEntries(buckets), { pageSize });
      const db = BoltReader.fromBytes(file);
      expect(db.pageSize).toBe(pageSize);
      expect(db.check(), `seed ${seed} round ${round}`).toEqual([]);
      const want = [...buckets].sort((a, b) =>
        Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
      );
      expect(fingerprint(readBack(file)), `seed ${seed} round ${round}`).toBe(fingerprint(want));
    }
  });

  it('refuses unsorted, duplicate or empty keys and duplicate bucket names', () => {
    const b = (entries: Pairs) => bucketsFromEntries([{ name: 'key', entries }]);
    expect(() =>
      writeBoltBytes(
        b([
          [Buffer.from('b'), Buffer.alloc(0)],
          [Buffer.from('a'), Buffer.alloc(0)],
        ]),
      ),
    ).toThrow(/ascending order/);
    expect(() =>
      writeBoltBytes(
        b([
          [Buffer.from('a'), Buffer.alloc(0)],
          [Buffer.from('a'), Buffer.alloc(0)],
        ]),
      ),
    ).toThrow(/ascending order/);
    expect(() => writeBoltBytes(b([[Buffer.alloc(0), Buffer.alloc(0)]]))).toThrow(/key required/);
    expect(() =>
      writeBoltBytes(
        bucketsFromEntries([
          { name: 'a', entries: [] },
          { name: 'a', entries: [] },
        ]),
      ),
    ).toThrow(BoltError);
  });

  it('picks the valid newer meta and rejects a file with no valid meta', () => {
    const file = Buffer.from(writeBoltBytes(bucketsFromEntries([{ name: 'k', entries: [] }])));
    expect(BoltReader.fromBytes(file).metaPage).toBe(1);
    // Corrupt meta 1 (txid 1): the reader falls back to meta 0, as bbolt does.
    file.writeUInt8(file.readUInt8(4096 + 56) ^ 0xff, 4096 + 56);
    const db = BoltReader.fromBytes(file);
    expect(db.metaPage).toBe(0);
    expect([...db.buckets()].map((b) => Buffer.from(b.name).toString())).toEqual(['k']);
    file.writeUInt8(file.readUInt8(16) ^ 0xff, 16);
    expect(() => BoltReader.fromBytes(file)).toThrow(/invalid database/);
    expect(() => BoltReader.fromBytes(Buffer.alloc(8192))).toThrow(BoltError);
  });

  it('check reports unreachable and doubly referenced pages', () => {
    const entries: Pairs = [];
    for (let i = 0; i < 2000; i++)
      entries.push([Buffer.from(`k${String(i).padStart(6, '0')}`), Buffer.alloc(30)]);
    const file = Buffer.from(writeBoltBytes(bucketsFromEntries([{ name: 'key', entries }])));
    // Grow the high-water mark by one page nobody references (and re-checksum the meta).
    const grown = Buffer.concat([file, Buffer.alloc(4096)]);
    bumpHighWater(grown, 1);
    expect(BoltReader.fromBytes(grown).check()).toContain(
      `page ${file.length / 4096}: unreachable unfreed`,
    );
  });
});

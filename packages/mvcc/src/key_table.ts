import { randomBytes } from 'node:crypto';

/** Slots start at this many and double whenever the table would pass half full. */
const MIN_SLOTS = 1024;
/**
 * `reserve` makes room for at most this many entries: past it, room is made as entries
 * come (a caller's estimate may be far too high, say a long history of few keys).
 */
const MAX_RESERVE = 1 << 20;
/** A record's length in uint32 and in float64 (see KeyTable.rec). */
const REC32 = 10;
const REC64 = 5;
/** Bytes of key the arena starts with. */
const MIN_ARENA = 64 * 1024;
/** The arena's offsets are uint32: its bytes stay below 4 GiB. */
const MAX_ARENA = 2 ** 32 - 1;

/**
 * A hash table from key bytes to entries, for the index's point lookups (every put, every
 * single-key range, every entry of a rebuild).
 *
 * Why not a `Map<string, V>`: a Map is keyed by strings, so each lookup first turns the
 * request's key bytes into a string (a call into the runtime) and the Map then hashes it
 * and compares it with the stored string, an object somewhere in the JS heap; at a million
 * keys that is 1.2–2.2 µs per lookup on the development VM, more than the backend read it
 * precedes. Here the request's bytes are hashed where they lie, the slots are one flat
 * Int32Array (open addressing with linear probing: a probe reads one cache line holding
 * both the hash and the entry number) and the keys themselves lie in one byte arena, so a
 * lookup touches three typed arrays and no heap object: 0.45 µs in the same conditions.
 *
 * Entries are numbered densely (`ordinal`), in insertion order until the first removal;
 * a removed entry's number is reused. Removal shifts the following slots back, so no
 * deleted-slot markers accumulate and a miss always ends at the first empty slot. Removed
 * keys' bytes stay in the arena until they make up half of it; it is then rewritten.
 *
 * The hash is seeded per table at random: which keys collide cannot be chosen by clients.
 */
export class KeyTable<V> {
  /** Two int32 per slot: the key's hash, and its entry's ordinal + 1 (0: empty slot). */
  private slots = new Int32Array(MIN_SLOTS * 2);
  private mask = MIN_SLOTS - 1;
  private entries: Array<V | undefined> = [];
  /** One more than the highest ordinal handed out (entries may be longer: reserved). */
  private next = 0;
  /** Ordinals of removed entries, reused before the entries array grows. */
  private readonly free: number[] = [];
  private count = 0;
  private readonly seed = randomBytes(4).readInt32LE(0);
  /** Every entry's key bytes, where its record (below) says. */
  private arena = Buffer.allocUnsafeSlow(MIN_ARENA);
  private arenaUsed = 0;
  /** Arena bytes of removed keys. */
  private arenaGarbage = 0;
  /**
   * One 40-byte record per ordinal, read through two views: uint32 [0] the key's arena
   * offset, [1] its length, [2] `sub`; float64 [2] `main`, [3] `created`, [4] `ver`. A
   * record spans at most two cache lines: a hit reads its key's place and its numbers
   * together.
   */
  private rec = new Uint32Array((MIN_SLOTS / 2) * REC32);
  private recF = new Float64Array(this.rec.buffer);

  get size(): number {
    return this.count;
  }

  /** One more than the highest ordinal in use: per-ordinal side arrays need this length. */
  get ordinals(): number {
    return this.next;
  }

  /** The hash of key bytes b[start, end). */
  hash(b: Uint8Array, start: number, end: number): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return fmix(h);
  }

  /** The ordinal of the entry for key bytes b[start, end) with hash h, or -1. */
  findHashed(h: number, b: Uint8Array, start: number, end: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const len = end - start;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const tag = slots[2 * p + 1]!;
      if (tag === 0) return -1;
      if (slots[2 * p] === h && this.rec[REC32 * (tag - 1) + 1] === len) {
        const arena = this.arena;
        const off = this.rec[REC32 * (tag - 1)]! - start;
        let i = start;
        while (i < end && arena[off + i] === b[i]) i++;
        if (i === end) return tag - 1;
      }
    }
  }

  /**
   * The ordinal of the first entry whose key has hash h and `len` bytes, or -1 (then no
   * key of those bytes is in the table). Its key is not compared: it may be another key
   * with the same hash and length, which the caller must rule out from what it reads
   * anyway (the index: the stored KeyValue holds its key). Spares reading the arena.
   */
  findCandidate(h: number, len: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const tag = slots[2 * p + 1]!;
      if (tag === 0) return -1;
      if (slots[2 * p] === h && this.rec[REC32 * (tag - 1) + 1] === len) return tag - 1;
    }
  }

  /** The ordinal of the entry for a binary-string key (one char per byte), or -1. */
  findString(key: string): number {
    const b = Buffer.from(key, 'latin1');
    return this.findHashed(this.hash(b, 0, b.length), b, 0, b.length);
  }

  /** The entry with ordinal o (from a find). */
  at(o: number): V {
    return this.entries[o]!;
  }

  /**
   * Four numbers kept with entry o next to its key, so that a hit reads them with the key
   * (the index keeps there the key's current generation: its newest revision main.sub,
   * main 0 when the key is deleted, the generation's created revision and its version).
   * All 0 when the entry is added.
   */
  main(o: number): number {
    return this.recF[REC64 * o + 2]!;
  }

  sub(o: number): number {
    return this.rec[REC32 * o + 2]!;
  }

  created(o: number): number {
    return this.recF[REC64 * o + 3]!;
  }

  ver(o: number): number {
    return this.recF[REC64 * o + 4]!;
  }

  setNumbers(o: number, main: number, sub: number, created: number, ver: number): void {
    this.recF[REC64 * o + 2] = main;
    this.rec[REC32 * o + 2] = sub;
    this.recF[REC64 * o + 3] = created;
    this.recF[REC64 * o + 4] = ver;
  }

  /** Entry o's key as a binary string. */
  keyString(o: number): string {
    const off = this.rec[REC32 * o]!;
    return this.arena.toString('latin1', off, off + this.rec[REC32 * o + 1]!);
  }

  /**
   * The keys of ordinals [from, to) copied into shared memory (for another thread): key i
   * is bytes [offsets[i], offsets[i + 1]) of `bytes`. Every ordinal in the span must be in
   * use.
   */
  sharedKeys(from: number, to: number): { bytes: SharedArrayBuffer; offsets: SharedArrayBuffer } {
    const rec = this.rec;
    const offsets = new Int32Array(new SharedArrayBuffer((to - from + 1) * 4));
    let total = 0;
    for (let o = from; o < to; o++) {
      if (this.entries[o] === undefined) throw new Error('KeyTable: no entry to copy');
      offsets[o - from] = total;
      total += rec[REC32 * o + 1]!;
    }
    offsets[to - from] = total;
    const bytes = new SharedArrayBuffer(total);
    const out = new Uint8Array(bytes);
    const arena = this.arena;
    let at = 0;
    for (let o = from; o < to; o++) {
      const off = rec[REC32 * o]!;
      const end = off + rec[REC32 * o + 1]!;
      for (let j = off; j < end; j++) out[at++] = arena[j]!;
    }
    return { bytes, offsets: offsets.buffer as SharedArrayBuffer };
  }

  /** Replaces entry o's value (the key stays). */
  setAt(o: number, v: V): void {
    if (this.entries[o] === undefined) throw new Error('KeyTable: no entry to replace');
    this.entries[o] = v;
  }

  /**
   * Adds entry v for key bytes b[start, end), which the table does not hold (the caller
   * has just looked them up), with the key's hash h; returns its ordinal.
   */
  add(v: V, h: number, b: Uint8Array, start: number, end: number): number {
    const len = end - start;
    // First what may fail: nothing has changed when it does.
    this.roomForKey(len);
    if ((this.count + 1) * 2 > this.slots.length / 2) this.grow();
    let o: number;
    if (this.free.length > 0) {
      o = this.free.pop()!;
      this.entries[o] = v;
    } else {
      o = this.next++;
      if (o < this.entries.length) this.entries[o] = v;
      else this.entries.push(v);
      if (REC32 * o >= this.rec.length) this.growRecords(2 * o);
    }
    this.rec[REC32 * o] = this.arenaUsed;
    this.rec[REC32 * o + 1] = len;
    this.setNumbers(o, 0, 0, 0, 0);
    const arena = this.arena;
    let at = this.arenaUsed;
    // Keys are mostly short: a loop costs less than making a view to copy from.
    if (len <= 64) for (let i = start; i < end; i++) arena[at++] = b[i]!;
    else arena.set(b.subarray(start, end), at);
    this.arenaUsed += len;
    this.place(h, o + 1);
    this.count++;
    return o;
  }

  /**
   * Makes room in the arena for a key of `len` bytes; throws a RangeError when the keys
   * would pass 4 GiB (call it before anything that must not happen without the key).
   */
  roomForKey(len: number): void {
    if (this.arenaUsed + len > this.arena.length) this.makeRoom(len);
  }

  /** Removes entry o (which must be in use). */
  deleteAt(o: number): void {
    if (this.entries[o] === undefined) throw new Error('KeyTable: no entry to remove');
    const slots = this.slots;
    const mask = this.mask;
    const off = this.rec[REC32 * o]!;
    let p = this.hash(this.arena, off, off + this.rec[REC32 * o + 1]!) & mask;
    while (slots[2 * p + 1] !== o + 1) p = (p + 1) & mask;
    this.entries[o] = undefined;
    this.free.push(o);
    this.arenaGarbage += this.rec[REC32 * o + 1]!;
    this.rec[REC32 * o + 1] = 0;
    this.count--;
    // Backward shift: move each later slot of the probe run into the hole when the hole
    // lies between that slot's home and the slot itself, so every key stays reachable from
    // its home without crossing an empty slot.
    let hole = p;
    for (let q = (p + 1) & mask; slots[2 * q + 1] !== 0; q = (q + 1) & mask) {
      const home = slots[2 * q]! & mask;
      if (((q - home) & mask) >= ((q - hole) & mask)) {
        slots[2 * hole] = slots[2 * q]!;
        slots[2 * hole + 1] = slots[2 * q + 1]!;
        hole = q;
      }
    }
    slots[2 * hole] = 0;
    slots[2 * hole + 1] = 0;
  }

  /**
   * Makes room for `n` entries in all without growing on the way (a rebuild knows about
   * how many keys are coming: growing re-places every entry each time the table doubles).
   */
  reserve(n: number): void {
    n = Math.min(n, MAX_RESERVE);
    let slots = this.slots.length / 2;
    while (n * 2 > slots) slots *= 2;
    if (slots > this.slots.length / 2) this.grow(slots);
    if (REC32 * n > this.rec.length) this.growRecords(n);
    if (n > this.entries.length) {
      // One allocation instead of a copy at every growth on the way.
      const entries = new Array<V | undefined>(n);
      for (let o = 0; o < this.next; o++) entries[o] = this.entries[o];
      this.entries = entries;
    }
  }

  /**
   * A copy with only the entries in use, numbered densely in their order here and in
   * arrays sized for them (a table never shrinks in place); `remap[o]` is the copy's
   * ordinal of entry o, -1 for a removed one.
   */
  compacted(): { table: KeyTable<V>; remap: Int32Array } {
    const table = new KeyTable<V>();
    table.reserve(this.count);
    const remap = new Int32Array(this.next).fill(-1);
    const rec = this.rec;
    for (let o = 0; o < this.next; o++) {
      const v = this.entries[o];
      if (v === undefined) continue;
      const off = rec[REC32 * o]!;
      const end = off + rec[REC32 * o + 1]!;
      const n = table.add(v, table.hash(this.arena, off, end), this.arena, off, end);
      table.setNumbers(n, this.main(o), this.sub(o), this.created(o), this.ver(o));
      remap[o] = n;
    }
    return { table, remap };
  }

  private place(h: number, tag: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let p = h & mask;
    while (slots[2 * p + 1] !== 0) p = (p + 1) & mask;
    slots[2 * p] = h;
    slots[2 * p + 1] = tag;
  }

  /** Rehashes into `n` slots (a power of two; twice as many by default). */
  private grow(n = this.slots.length): void {
    const old = this.slots;
    this.slots = new Int32Array(n * 2);
    this.mask = n - 1;
    // The stored hashes place every entry again without reading a key.
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }

  /** Makes room for the records of ordinals below n. */
  private growRecords(n: number): void {
    const rec = new Uint32Array(n * REC32);
    rec.set(this.rec);
    this.rec = rec;
    this.recF = new Float64Array(rec.buffer);
  }

  /** Makes room for `len` more key bytes: drops removed keys' bytes, or a bigger arena. */
  private makeRoom(len: number): void {
    const live = this.arenaUsed - this.arenaGarbage;
    let size = this.arena.length;
    // Rewrite in place when half is garbage; otherwise double (also when rewriting would
    // leave it more than half full, so that the next rewrite is as far away).
    while (live + len > size / 2) size *= 2;
    if (live + len > MAX_ARENA) throw new RangeError('mvcc: the index holds 4 GiB of keys');
    size = Math.min(size, MAX_ARENA);
    const arena = Buffer.allocUnsafeSlow(size);
    let used = 0;
    for (let o = 0; o < this.next; o++) {
      if (this.entries[o] === undefined) continue;
      const off = this.rec[REC32 * o]!;
      const n = this.rec[REC32 * o + 1]!;
      this.arena.copy(arena, used, off, off + n);
      this.rec[REC32 * o] = used;
      used += n;
    }
    this.arena = arena;
    this.arenaUsed = used;
    this.arenaGarbage = 0;
  }
}

/** Ordinals are sorted in runs of this many, then merged: a run's keys stay in cache. */
export const RUN = 65536;

/**
 * The ordinals of `keys` (binary strings, all distinct) in byte order of the keys: sorted
 * in runs, then merged. Sorting ordinals keeps each key's ordinal without looking the
 * sorted keys up again, and a run's strings fit in cache while it is sorted (at a million
 * keys, 0.8 s in all against 1.3 s to sort the strings and look each one up).
 */
export function sortOrdinals(keys: readonly string[]): Int32Array {
  const runs: Int32Array[] = [];
  for (let from = 0; from < keys.length; from += RUN) {
    runs.push(sortRun(keys, from, Math.min(keys.length, from + RUN)));
  }
  return mergeRuns(keys, runs);
}

/** Ordinals [from, to) of `keys` in byte order of the keys. */
export function sortRun(keys: readonly string[], from: number, to: number): Int32Array {
  const run: number[] = [];
  for (let o = from; o < to; o++) run.push(o);
  // Comparing binary strings by UTF-16 code unit is byte order.
  return Int32Array.from(run.sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1)));
}

/** Runs of ordinals of `keys`, each in byte order of the keys, merged into one order. */
export function mergeRuns(keys: readonly string[], runs: readonly Int32Array[]): Int32Array {
  let n = 0;
  for (const run of runs) n += run.length;
  const live = runs.filter((run) => run.length > 0);
  // A binary heap of the runs, ordered by each run's next key.
  const next = new Int32Array(live.length);
  const heads = live.map((run) => keys[run[0]!]!);
  const heap = live.map((_, r) => r);
  const siftDown = (i: number): void => {
    const len = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      let m = i;
      if (l < len && heads[heap[l]!]! < heads[heap[m]!]!) m = l;
      if (l + 1 < len && heads[heap[l + 1]!]! < heads[heap[m]!]!) m = l + 1;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const r = heap[0]!;
    const run = live[r]!;
    const at = next[r]!;
    order[k] = run[at]!;
    if (at + 1 < run.length) {
      next[r] = at + 1;
      heads[r] = keys[run[at + 1]!]!;
    } else {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 0) siftDown(0);
  }
  return order;
}

/** Murmur3's finalizer: spreads every input bit over the low bits the table masks. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

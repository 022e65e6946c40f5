import { randomBytes } from 'node:crypto';

/** Slots start at this many and double whenever the table would pass half full. */
const MIN_SLOTS = 1024;

/**
 * A hash table from key bytes to entries, for the index's point lookups (every put, every
 * single-key range, every entry of a rebuild).
 *
 * Why not a `Map<string, V>`: a Map is keyed by strings, so each lookup first turns the
 * request's key bytes into a string (a call into the runtime) and the Map then hashes it
 * and compares it with the stored string; at a million keys that is 1.3–2.2 µs per lookup
 * on the development VM, more than the backend read it precedes. Here the key bytes are
 * hashed where they lie, the slots are one flat Int32Array (open addressing with linear
 * probing: a probe is one cache line holding both the hash and the entry number) and only
 * a full hash match compares the key itself. Keys that are found never become strings.
 *
 * Entries are numbered densely (`ordinal`), in insertion order until the first removal;
 * a removed entry's number is reused. Removal shifts the following slots back, so no
 * deleted-slot markers accumulate and a miss always ends at the first empty slot.
 *
 * The hash is seeded per table at random: which keys collide cannot be chosen by clients.
 */
export class KeyTable<V> {
  /** Two int32 per slot: the key's hash, and its entry's ordinal + 1 (0: empty slot). */
  private slots = new Int32Array(MIN_SLOTS * 2);
  private mask = MIN_SLOTS - 1;
  private readonly entries: Array<V | undefined> = [];
  /** Ordinals of removed entries, reused before the entries array grows. */
  private readonly free: number[] = [];
  private count = 0;
  private readonly seed = randomBytes(4).readInt32LE(0);

  /** @param keyOf the entry's key as a binary string (one char per byte). */
  constructor(private readonly keyOf: (v: V) => string) {}

  get size(): number {
    return this.count;
  }

  /** The hash of key bytes b[start, end). */
  hash(b: Uint8Array, start: number, end: number): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return fmix(h);
  }

  /** The hash of a binary-string key: equal to `hash` of its bytes. */
  hashString(key: string): number {
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return fmix(h);
  }

  /** The ordinal of the entry for key bytes b[start, end) with hash h, or -1. */
  findHashed(h: number, b: Uint8Array, start: number, end: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const len = end - start;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const o = slots[2 * p + 1]!;
      if (o === 0) return -1;
      if (slots[2 * p] === h) {
        const k = this.keyOf(this.entries[o - 1]!);
        if (k.length === len) {
          let i = 0;
          while (i < len && k.charCodeAt(i) === b[start + i]) i++;
          if (i === len) return o - 1;
        }
      }
    }
  }

  /** The ordinal of the entry for a binary-string key, or -1. */
  findString(key: string): number {
    const slots = this.slots;
    const mask = this.mask;
    const h = this.hashString(key);
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const o = slots[2 * p + 1]!;
      if (o === 0) return -1;
      if (slots[2 * p] === h && this.keyOf(this.entries[o - 1]!) === key) return o - 1;
    }
  }

  /** The entry for key bytes (all of b), if any. */
  get(b: Uint8Array): V | undefined {
    const o = this.findHashed(this.hash(b, 0, b.length), b, 0, b.length);
    return o < 0 ? undefined : this.entries[o];
  }

  /** The entry for a binary-string key, if any. */
  getString(key: string): V | undefined {
    const o = this.findString(key);
    return o < 0 ? undefined : this.entries[o];
  }

  /** The entry with ordinal o (from a find). */
  at(o: number): V {
    return this.entries[o]!;
  }

  /**
   * Adds an entry whose key the table does not hold (the caller has just looked it up),
   * with the key's hash h; returns its ordinal.
   */
  add(v: V, h: number): number {
    if ((this.count + 1) * 2 > this.slots.length / 2) this.grow();
    let o: number;
    if (this.free.length > 0) {
      o = this.free.pop()!;
      this.entries[o] = v;
    } else {
      o = this.entries.length;
      this.entries.push(v);
    }
    this.place(h, o + 1);
    this.count++;
    return o;
  }

  /** Removes the entry for a binary-string key; false if there was none. */
  delete(key: string): boolean {
    const slots = this.slots;
    const mask = this.mask;
    const h = this.hashString(key);
    let p = h & mask;
    for (; ; p = (p + 1) & mask) {
      const o = slots[2 * p + 1]!;
      if (o === 0) return false;
      if (slots[2 * p] === h && this.keyOf(this.entries[o - 1]!) === key) break;
    }
    const o = slots[2 * p + 1]! - 1;
    this.entries[o] = undefined;
    this.free.push(o);
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
    return true;
  }

  /** Every entry, in ordinal order. */
  *values(): IterableIterator<V> {
    for (const v of this.entries) if (v !== undefined) yield v;
  }

  private place(h: number, tag: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let p = h & mask;
    while (slots[2 * p + 1] !== 0) p = (p + 1) & mask;
    slots[2 * p] = h;
    slots[2 * p + 1] = tag;
  }

  private grow(): void {
    const old = this.slots;
    const n = old.length; // twice the old slot count: the new slot count
    this.slots = new Int32Array(n * 2);
    this.mask = n - 1;
    // The stored hashes place every entry again without reading a key.
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i]!, old[i + 1]!);
  }
}

/** Murmur3's finalizer: spreads every input bit over the low bits the table masks. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

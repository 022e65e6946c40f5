import sortedBtree from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { KeyIndex, type KeyIndexGet } from './key_index.js';
import { KeyTable, sortOrdinals } from './key_table.js';

// sorted-btree is CommonJS with its class on `exports.default`: Node's ESM loader hands us
// the exports object, bundlers (vitest) the class itself.
type BTreeClass = typeof sortedBtree.default;
/**
 * New keys wait at most this many inserts before joining the tree, in one sorted batch:
 * the bigger the batch, the more inserts share tree pages (at a million keys, 2.2 µs per
 * insert in batches of 16,384 against 2.8 µs in batches of 4,096 on the development VM).
 * A range flushes whatever waits first, so writes without reads pay at most ~35 ms once
 * per batch; reads interleaved with writes keep the batches small.
 */
const PENDING_LIMIT = 16384;
/** Entries per B+ tree node. */
const NODE_SIZE = 64;

const BTree: BTreeClass =
  (sortedBtree as unknown as { default?: BTreeClass }).default ??
  (sortedBtree as unknown as BTreeClass);

/** Byte order on binary strings (one char per byte): plain string comparison. */
export function compareBinary(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One key found by a range over the index. */
export interface IndexHit extends KeyIndexGet {
  key: string;
}

/**
 * The in-memory index (etcd's treeIndex): every key, as a binary string, in a B+ tree of
 * KeyIndex. `end` follows the index's convention: undefined means the single key `key`,
 * '' means every key >= key, anything else the half-open range [key, end).
 */
export class TreeIndex {
  /** Key order, for ranges. */
  private tree = new BTree<string, KeyIndex>(undefined, compareBinary, NODE_SIZE);
  /**
   * The same entries hashed by key bytes, for single-key lookups (every put and most
   * reads): one hash of the request's bytes instead of ~20 string comparisons down the
   * tree, and no string made of a key already indexed. Next to each key the table keeps
   * the key's newest live revision (main 0: deleted), so that a read at the current
   * revision (most reads) needs nothing else from the index.
   */
  private readonly byKey = new KeyTable<KeyIndex>();

  /** Number of keys indexed (live or with history). */
  get size(): number {
    return this.byKey.size;
  }

  keyIndex(key: string): KeyIndex | undefined {
    return this.byKey.getString(key);
  }

  /** The ordinal of key bytes b[start, end) (all of b by default) in the index, or -1. */
  lookup(b: Uint8Array, start = 0, end = b.length): number {
    return this.byKey.findHashed(this.byKey.hash(b, start, end), b, start, end);
  }

  /** The KeyIndex of key bytes b[start, end) (all of b by default), if indexed. */
  find(b: Uint8Array, start = 0, end = b.length): KeyIndex | undefined {
    const o = this.lookup(b, start, end);
    return o < 0 ? undefined : this.byKey.at(o);
  }

  /** The KeyIndex with ordinal o (from `lookup`). */
  at(o: number): KeyIndex {
    return this.byKey.at(o);
  }

  /** Main part of the newest live revision of the key with ordinal o; 0 when deleted. */
  lastMain(o: number): number {
    return this.byKey.main(o);
  }

  /** Sub part of the newest live revision of the key with ordinal o. */
  lastSub(o: number): number {
    return this.byKey.sub(o);
  }

  /** The key's revision visible at atRev, if it existed then. */
  get(key: string, atRev: number): KeyIndexGet | undefined {
    return this.byKey.getString(key)?.get(atRev);
  }

  /** Records a put of `key` at main.sub. */
  put(key: string, main: number, sub: number): void {
    const o = this.byKey.findString(key);
    if (o >= 0) {
      this.putAt(o, main, sub);
      return;
    }
    const ki = new KeyIndex(key);
    ki.put(main, sub);
    this.insertNew(ki, Buffer.from(key, 'latin1'));
  }

  /** Records a put at main.sub of the key with ordinal o. */
  putAt(o: number, main: number, sub: number): void {
    this.byKey.at(o).put(main, sub);
    this.byKey.setMainSub(o, main, sub);
  }

  /** Records a delete of `key` at main.sub (the key must be live). */
  tombstone(key: string, main: number, sub: number): void {
    const o = this.byKey.findString(key);
    if (o < 0) throw new Error('mvcc: tombstone of a key the index does not have');
    this.tombstoneAt(o, main, sub);
  }

  /** Records a delete at main.sub of the key with ordinal o (the key must be live). */
  tombstoneAt(o: number, main: number, sub: number): void {
    this.byKey.at(o).tombstone(main, sub);
    this.byKey.setMainSub(o, 0, 0);
  }

  /** Adds a KeyIndex for a key not indexed yet. */
  insert(ki: KeyIndex): void {
    if (this.byKey.findString(ki.key) >= 0) throw new Error('mvcc: key indexed twice');
    this.insertNew(ki, Buffer.from(ki.key, 'latin1'));
  }

  /**
   * Adds a KeyIndex, with the revisions it already holds, for key bytes b[start, end)
   * that the caller has just looked up and not found; returns its ordinal.
   */
  insertNew(ki: KeyIndex, b: Uint8Array, start = 0, end = b.length): number {
    const o = this.byKey.add(ki, this.byKey.hash(b, start, end), b, start, end);
    this.byKey.setMainSub(o, ki.lastMain, ki.lastSub);
    if (this.bulk) return o;
    // New keys reach the tree in sorted batches: inserting in key order walks one hot path
    // down the tree instead of a cold one per key (about 3x cheaper at a million keys).
    this.pending.set(ki.key, ki);
    if (this.pending.size >= PENDING_LIMIT) this.flushPending();
    return o;
  }

  /**
   * KeyIndexes in `byKey` not yet in `tree`; flushed before anything walks the tree. A map
   * of its own, small enough to stay in cache, so the flush finds each KeyIndex without
   * probing the big one.
   */
  private pending = new Map<string, KeyIndex>();

  private flushPending(): void {
    if (this.pending.size === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    for (const k of [...pending.keys()].sort()) this.tree.set(k, pending.get(k)!);
  }

  private bulk = false;

  /**
   * Bulk loading (the rebuild on open): inserts go to the hash only; `endBulkLoad` then
   * fills the tree in key order, which costs half of inserting in revision order. Ranges
   * are not served in between.
   */
  beginBulkLoad(): void {
    if (this.byKey.size !== 0) throw new Error('mvcc: bulk load into a non-empty index');
    this.bulk = true;
  }

  /** Makes room for about `keys` keys (a bulk load that knows how many are coming). */
  reserve(keys: number): void {
    this.byKey.reserve(keys);
  }

  endBulkLoad(): void {
    if (!this.bulk) return;
    this.bulk = false;
    // Nothing is removed during a bulk load: the ordinals are 0 to size-1.
    const byKey = this.byKey;
    if (byKey.ordinals !== byKey.size) throw new Error('mvcc: a key removed during a bulk load');
    // The keys gathered in one pass first: the sort then compares strings straight from
    // one array instead of through each KeyIndex.
    const byOrdinal = new Array<string>(byKey.size);
    for (let o = 0; o < byOrdinal.length; o++) byOrdinal[o] = byKey.at(o).key;
    const order = sortOrdinals(byOrdinal.length, (o) => byOrdinal[o]!);
    const keys = new Array<string>(order.length);
    const values = new Array<KeyIndex>(order.length);
    for (let i = 0; i < order.length; i++) {
      keys[i] = byOrdinal[order[i]!]!;
      values[i] = byKey.at(order[i]!);
    }
    // Built bottom-up from the sorted keys, leaves 80% full to leave room for new keys.
    this.tree = bulkLoad<string, KeyIndex>(keys, values, NODE_SIZE, compareBinary);
  }

  /**
   * Ends a bulk load with the key order computed elsewhere: `order` lists the ordinals (the
   * order in which the bulk load added the keys) in key order. The tree is built if these
   * are exactly the indexed keys in strictly ascending order; otherwise nothing changes
   * and false is returned (call endBulkLoad then).
   */
  endBulkLoadInOrder(order: Int32Array): boolean {
    const byKey = this.byKey;
    if (!this.bulk || order.length !== byKey.size || byKey.ordinals !== byKey.size) return false;
    const keys = new Array<string>(order.length);
    const values = new Array<KeyIndex>(order.length);
    for (let i = 0; i < order.length; i++) {
      const o = order[i]!;
      if (!(o >= 0 && o < order.length)) return false;
      values[i] = byKey.at(o);
      keys[i] = values[i]!.key;
    }
    try {
      // bulkLoad checks the order, and an ordinal can only be in `order` once if the keys
      // ascend strictly, so these are the indexed keys.
      this.tree = bulkLoad<string, KeyIndex>(keys, values, NODE_SIZE, compareBinary);
    } catch {
      return false;
    }
    this.bulk = false;
    return true;
  }

  /** Calls fn for each KeyIndex with key in the range, in key order, until it returns false. */
  visit(key: string, end: string | undefined, fn: (ki: KeyIndex) => boolean | undefined): void {
    if (end === undefined) {
      const ki = this.byKey.getString(key);
      if (ki !== undefined) fn(ki);
      return;
    }
    if (end !== '' && end <= key) return;
    this.flushPending();
    // One descent, then a walk along the leaves (nextHigherPair would descend per key).
    const pair: Array<string | KeyIndex> = [];
    for (const p of this.tree.entries(key, pair)) {
      if (end !== '' && p[0] >= end) return;
      if (fn(p[1]) === false) return;
    }
  }

  /**
   * The keys live at atRev in the range with their revisions, at most `limit` of them
   * (0: all), and how many there are in all (etcd's Revisions).
   */
  revisions(
    key: string,
    end: string | undefined,
    atRev: number,
    limit = 0,
  ): { hits: IndexHit[]; total: number } {
    const hits: IndexHit[] = [];
    let total = 0;
    this.visit(key, end, (ki) => {
      const g = ki.get(atRev);
      if (g === undefined) return true;
      if (limit <= 0 || hits.length < limit) {
        hits.push({ key: ki.key, ...g });
      }
      total++;
      return true;
    });
    return { hits, total };
  }

  /** How many keys in the range are live at atRev (etcd's CountRevisions). */
  countRevisions(key: string, end: string | undefined, atRev: number): number {
    let n = 0;
    this.visit(key, end, (ki) => {
      if (ki.get(atRev) !== undefined) n++;
      return true;
    });
    return n;
  }

  /**
   * Compacts every key at `rev`, forgetting keys left with no revision; returns the
   * revisions at or below rev that remain (physical compaction keeps exactly these).
   */
  compact(rev: number): Set<number | string> {
    this.flushPending();
    const available = new Set<number | string>();
    const emptied: string[] = [];
    for (const [k, ki] of this.tree.entries()) {
      ki.compact(rev, available);
      if (ki.isEmpty()) emptied.push(k);
    }
    for (const k of emptied) {
      this.tree.delete(k);
      this.byKey.delete(k);
    }
    return available;
  }

  /** The revisions at or below rev that `compact(rev)` would keep, changing nothing. */
  keep(rev: number): Set<number | string> {
    this.flushPending();
    const available = new Set<number | string>();
    for (const ki of this.tree.values()) ki.keep(rev, available);
    return available;
  }

  /** Every KeyIndex in key order (tests and dumps). */
  *all(): IterableIterator<KeyIndex> {
    this.flushPending();
    yield* this.tree.values();
  }
}

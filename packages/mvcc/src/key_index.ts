import { RevisionNotFoundError } from './errors.js';
import { revGreater, revSetKey } from './revision.js';

/**
 * One life of a key: from its creation to its deletion (the tombstone, its last revision).
 * `revs` holds the revisions as flat pairs [main0, sub0, main1, sub1, ...], oldest first:
 * one number array instead of an object per revision keeps a key's index entry small.
 */
export interface Generation {
  /** Number of modifications in this generation (kept when compaction drops revisions). */
  ver: number;
  createdMain: number;
  revs: number[];
}

/** What `get` finds for a key at a revision. */
export interface KeyIndexGet {
  modMain: number;
  modSub: number;
  createdMain: number;
  ver: number;
}

const NO_REVS: number[] = [];

/**
 * Every revision of one key still in the store, grouped into generations (etcd's keyIndex).
 * The last (current) generation lives inline in the KeyIndex itself; older generations,
 * each closed by a tombstone, live in `past`. A deleted key's current generation is empty.
 *
 * For example, key "foo" put at 1.0, 2.0, deleted at 3.0, put at 4.0 and 5.0:
 *   past: [{created 1.0, ver 3, revs 1.0 2.0 3.0(t)}], current: {created 4.0, ver 2, revs 4.0 5.0}
 */
export class KeyIndex implements Generation {
  readonly key: string;
  ver = 0;
  createdMain = 0;
  past: Generation[] | undefined = undefined;
  /**
   * The current generation's revisions. Most keys hold a single one (a million-key store
   * rebuilt after compaction is nearly all such keys), kept inline in oneMain/oneSub; only
   * from the second revision on do they live in `more` (every pair, oldest first). This
   * spares two heap objects per key, which the garbage collector would otherwise copy and
   * mark. oneMain 0 with no `more` means the generation is empty (revisions start at 1).
   */
  private oneMain = 0;
  private oneSub = 0;
  private more: number[] | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }

  /** The current generation's revisions as flat pairs (a fresh array for a single one). */
  get revs(): number[] {
    if (this.more !== undefined) return this.more;
    return this.oneMain === 0 ? NO_REVS : [this.oneMain, this.oneSub];
  }

  set revs(r: number[]) {
    if (r.length === 2) {
      this.oneMain = r[0]!;
      this.oneSub = r[1]!;
      this.more = undefined;
    } else {
      this.oneMain = 0;
      this.oneSub = 0;
      this.more = r.length === 0 ? undefined : r;
    }
  }

  /** Main part of the current generation's newest revision; 0 when the key is deleted. */
  get lastMain(): number {
    const m = this.more;
    return m === undefined ? this.oneMain : m[m.length - 2]!;
  }

  /** Sub part of the current generation's newest revision. */
  get lastSub(): number {
    const m = this.more;
    return m === undefined ? this.oneSub : m[m.length - 1]!;
  }

  /** Whether the key has no live revision (its current generation is empty). */
  get deleted(): boolean {
    return this.more === undefined && this.oneMain === 0;
  }

  /** The key's whole history is one revision (its current generation's only one). */
  get isSingleRevision(): boolean {
    return this.more === undefined && this.oneMain !== 0 && this.past === undefined;
  }

  /** No generation holds any revision: the index may forget the key. */
  isEmpty(): boolean {
    return this.deleted && (this.past === undefined || this.past.length === 0);
  }

  /** The revision of the last modification (put or tombstone), or [0, 0]. */
  modified(): [number, number] {
    const m = this.more;
    if (m !== undefined) return [m[m.length - 2]!, m[m.length - 1]!];
    if (this.oneMain !== 0) return [this.oneMain, this.oneSub];
    const past = this.past;
    if (past !== undefined && past.length > 0) {
      const pr = past[past.length - 1]!.revs;
      return [pr[pr.length - 2]!, pr[pr.length - 1]!];
    }
    return [0, 0];
  }

  /** Records a put at main.sub, which must be newer than every revision the key has. */
  put(main: number, sub: number): void {
    const m = this.more;
    // The newest revision the key has, without allocating (modified() would).
    let mMain = 0;
    let mSub = 0;
    if (m !== undefined) {
      mMain = m[m.length - 2]!;
      mSub = m[m.length - 1]!;
    } else if (this.oneMain !== 0) {
      mMain = this.oneMain;
      mSub = this.oneSub;
    } else if (this.past !== undefined && this.past.length > 0) {
      [mMain, mSub] = this.modified();
    }
    if (!revGreater(main, sub, mMain, mSub)) {
      throw new Error(
        `mvcc: 'put' with an unexpected smaller revision ${main}.${sub} (modified ${mMain}.${mSub})`,
      );
    }
    if (m !== undefined) {
      if (m.length < 16) {
        // Exact-size copies while short: push would over-allocate the backing store.
        this.more = [...m, main, sub];
      } else {
        m.push(main, sub);
      }
    } else if (this.oneMain !== 0) {
      this.more = [this.oneMain, this.oneSub, main, sub];
      this.oneMain = 0;
      this.oneSub = 0;
    } else {
      this.createdMain = main;
      this.ver = 0;
      this.oneMain = main;
      this.oneSub = sub;
    }
    this.ver++;
  }

  /**
   * Rebuilds the key from one stored revision when the index is restored: the generation
   * starts at `created` with `ver` modifications and `modified` as its only revision.
   */
  restore(createdMain: number, modMain: number, modSub: number, ver: number): void {
    if (!this.isEmpty()) throw new Error('mvcc: cannot restore a non-empty keyIndex');
    this.createdMain = createdMain;
    this.ver = ver;
    this.oneMain = modMain;
    this.oneSub = modSub;
  }

  /** Records a delete at main.sub: the tombstone closes the current generation. */
  tombstone(main: number, sub: number): void {
    if (this.isEmpty()) throw new Error(`mvcc: 'tombstone' got an unexpected empty keyIndex`);
    if (this.deleted) throw new RevisionNotFoundError();
    this.put(main, sub);
    const closed: Generation = {
      ver: this.ver,
      createdMain: this.createdMain,
      revs: this.revs,
    };
    if (this.past === undefined) this.past = [closed];
    else this.past.push(closed);
    this.ver = 0;
    this.createdMain = 0;
    this.revs = NO_REVS;
  }

  /**
   * The revision of the key visible at `atRev`: the newest revision <= atRev in the
   * generation alive at atRev; undefined when the key did not exist then.
   */
  get(atRev: number): KeyIndexGet | undefined {
    // Fast path: reading the current generation at or after its last change.
    const r = this.more;
    if (r !== undefined) {
      if (r[r.length - 2]! <= atRev) {
        return {
          modMain: r[r.length - 2]!,
          modSub: r[r.length - 1]!,
          createdMain: this.createdMain,
          ver: this.ver,
        };
      }
    } else if (this.oneMain !== 0 && this.oneMain <= atRev) {
      return {
        modMain: this.oneMain,
        modSub: this.oneSub,
        createdMain: this.createdMain,
        ver: this.ver,
      };
    }
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    const gr = g.revs;
    const count = gr.length / 2;
    for (let i = count - 1; i >= 0; i--) {
      if (gr[2 * i]! <= atRev) {
        return {
          modMain: gr[2 * i]!,
          modSub: gr[2 * i + 1]!,
          createdMain: g.createdMain,
          ver: g.ver - (count - i - 1),
        };
      }
    }
    return undefined;
  }

  /**
   * The generation alive at `rev`: the newest non-empty one that began at or before rev,
   * unless it was closed by a tombstone at or before rev.
   */
  findGeneration(rev: number): Generation | undefined {
    const gens = this.generations();
    const last = gens.length - 1;
    for (let cg = last; cg >= 0; cg--) {
      const g = gens[cg]!;
      if (g.revs.length === 0) continue;
      if (cg !== last) {
        const tomb = g.revs[g.revs.length - 2]!;
        if (tomb <= rev) return undefined;
      }
      if (g.revs[0]! <= rev) return g;
    }
    return undefined;
  }

  /** Every generation, oldest first, the current one last (etcd's `generations` slice). */
  generations(): Generation[] {
    return this.past === undefined ? [this] : [...this.past, this];
  }

  /**
   * Drops every revision older than `atRev` that no read at or after atRev can need, and
   * adds to `available` the revisions at or below atRev that stay (etcd's compact).
   */
  compact(atRev: number, available: Set<number | string>): void {
    if (this.isEmpty()) throw new Error(`mvcc: 'compact' got an unexpected empty keyIndex`);
    const gens = this.generations();
    let [genIdx, revIndex] = this.doCompact(gens, atRev, available);
    const g = gens[genIdx]!;
    if (g.revs.length > 0) {
      if (revIndex !== -1) g.revs = g.revs.slice(revIndex * 2);
      if (g.revs.length === 2 && genIdx !== gens.length - 1) {
        // Only the tombstone is left: the whole generation goes.
        available.delete(revSetKey(g.revs[0]!, g.revs[1]!));
        genIdx++;
      }
    }
    // The current generation is always last, so it always survives the cut.
    const kept = gens.slice(genIdx, gens.length - 1);
    this.past = kept.length === 0 ? undefined : kept;
  }

  /** Adds to `available` the revisions at or below atRev that `compact(atRev)` would keep. */
  keep(atRev: number, available: Set<number | string>): void {
    if (this.isEmpty()) return;
    const gens = this.generations();
    const [genIdx, revIndex] = this.doCompact(gens, atRev, available);
    const g = gens[genIdx]!;
    if (g.revs.length > 0 && revIndex === g.revs.length / 2 - 1 && genIdx !== gens.length - 1) {
      available.delete(revSetKey(g.revs[revIndex * 2]!, g.revs[revIndex * 2 + 1]!));
    }
  }

  /**
   * Finds the first generation that is alive after atRev and, in it, the newest revision
   * at or below atRev (its index, or -1), recording that revision in `available`.
   */
  private doCompact(
    gens: Generation[],
    atRev: number,
    available: Set<number | string>,
  ): [number, number] {
    let genIdx = 0;
    let g = gens[0]!;
    while (genIdx < gens.length - 1) {
      const tomb = g.revs[g.revs.length - 2]!;
      if (tomb > atRev) break;
      genIdx++;
      g = gens[genIdx]!;
    }
    const r = g.revs;
    for (let i = r.length / 2 - 1; i >= 0; i--) {
      if (r[2 * i]! <= atRev) {
        available.add(revSetKey(r[2 * i]!, r[2 * i + 1]!));
        return [genIdx, i];
      }
    }
    return [genIdx, -1];
  }

  /** A readable dump for tests and logs. */
  toString(): string {
    return this.generations()
      .map((g) => {
        const revs: string[] = [];
        for (let i = 0; i < g.revs.length; i += 2) revs.push(`${g.revs[i]}.${g.revs[i + 1]}`);
        return `g: created[${g.createdMain}] ver[${g.ver}] revs[${revs.join(' ')}]`;
      })
      .join('\n');
  }
}

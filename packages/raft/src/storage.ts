// The Storage interface raft reads its stable log through, and MemoryStorage,
// an in-memory implementation that applications and tests use as the read
// side of their persistence (append what each Ready hands out, then advance).

import { entrySize } from './codec.js';
import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.js';
import { discardLogger, type Logger, panic } from './logger.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  newHardState,
  newSnapshot,
  type Snapshot,
} from './raftpb.js';
import { NO_LIMIT } from './util.js';

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

/**
 * What raft needs to read from stable storage. Methods throw ErrCompacted /
 * ErrUnavailable / ErrSnapshotTemporarilyUnavailable as documented; any other
 * error is fatal to raft.
 */
export interface Storage {
  /** The saved HardState and the ConfState of the latest snapshot (or bootstrap). */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), their total encoded size at most maxSize but at least
   * one entry. Throws ErrCompacted if lo was compacted away.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /** The term of entry i, in [firstIndex()-1, lastIndex()]. Throws ErrCompacted / ErrUnavailable. */
  term(i: number): number;
  lastIndex(): number;
  /** The index of the first entry still available (the entry before it is the snapshot's). */
  firstIndex(): number;
  /** The latest snapshot. May throw ErrSnapshotTemporarilyUnavailable. */
  snapshot(): Snapshot;
}

/** Appends of at most this many entries are copied into a chunk MemoryStorage owns. */
const SMALL_APPEND = 64;
/** The most entries an owned chunk grows to. */
const CHUNK_MAX = 4096;

/**
 * An in-memory Storage. The log is kept as a list of chunks (arrays of
 * consecutive entries): a large append keeps the caller's array as a chunk
 * (no per-entry copy: a Ready's entries are never modified afterwards),
 * small appends are gathered into chunks of its own.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = newHardState();
  private snap: Snapshot = newSnapshot();
  // The index and term of the entry before the first: the snapshot's (or 0/0).
  private snapIndex = 0;
  private snapTerm = 0;
  // chunks[k] holds entries starts[k], starts[k]+1, ...; chunks are never
  // empty, and the first may start at or before snapIndex (those entries are
  // compacted away and never read).
  private chunks: Entry[][] = [];
  private starts: number[] = [];
  // Whether the last chunk is an array MemoryStorage created (and may push to).
  private ownsLast = false;

  private readonly logger: Logger;

  /**
   * `confState` presets the configuration (as if a snapshot at index 0 had
   * it): tests and tools use it to start members without bootstrapping.
   */
  constructor(opts: { logger?: Logger; confState?: ConfState } = {}) {
    this.logger = opts.logger ?? discardLogger;
    if (opts.confState !== undefined) this.snap.metadata.confState = opts.confState;
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** The chunk holding index i (which must be in the log). */
  private chunkOf(i: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    // Most reads are near the end of the log.
    if (starts[hi]! <= i) return hi;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    if (lo <= this.snapIndex) throw new ErrCompacted();
    const last = this.lastIndex();
    if (hi > last + 1) panic(this.logger, `entries' hi(${hi}) is out of bound lastindex(${last})`);
    if (this.chunks.length === 0) throw new ErrUnavailable();
    const out: Entry[] = [];
    let size = 0;
    let k = this.chunkOf(lo);
    let i = lo;
    while (i < hi) {
      const chunk = this.chunks[k]!;
      const start = this.starts[k]!;
      const end = Math.min(hi, start + chunk.length);
      for (; i < end; i++) {
        const e = chunk[i - start]!;
        if (maxSize < NO_LIMIT) {
          size += entrySize(e);
          // At least one entry, however large.
          if (size > maxSize && out.length > 0) return out;
        }
        out.push(e);
      }
      k++;
    }
    return out;
  }

  term(i: number): number {
    if (i < this.snapIndex) throw new ErrCompacted();
    if (i === this.snapIndex) return this.snapTerm;
    if (i > this.lastIndex()) throw new ErrUnavailable();
    const k = this.chunkOf(i);
    return this.chunks[k]![i - this.starts[k]!]!.term;
  }

  lastIndex(): number {
    const n = this.chunks.length;
    if (n === 0) return this.snapIndex;
    return this.starts[n - 1]! + this.chunks[n - 1]!.length - 1;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the storage's contents with the snapshot. Throws ErrSnapOutOfDate for an older one. */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = snap;
    this.snapIndex = snap.metadata.index;
    this.snapTerm = snap.metadata.term;
    this.chunks = [];
    this.starts = [];
    this.ownsLast = false;
  }

  /**
   * Records a snapshot of the state machine at applied index i (with the
   * ConfState in force there, if membership changed) and returns it.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    if (i > this.lastIndex()) {
      panic(this.logger, `snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      data,
      metadata: { index: i, term: this.term(i), confState: cs ?? this.snap.metadata.confState },
    };
    return this.snap;
  }

  /** Discards the entries before compactIndex; compactIndex becomes the entry before the first. */
  compact(compactIndex: number): void {
    if (compactIndex <= this.snapIndex) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      panic(this.logger, `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snapTerm = this.term(compactIndex);
    this.snapIndex = compactIndex;
    // Drop the chunks that end at or before compactIndex...
    let drop = 0;
    while (
      drop < this.chunks.length &&
      this.starts[drop]! + this.chunks[drop]!.length - 1 <= compactIndex
    )
      drop++;
    if (drop > 0) {
      this.chunks = this.chunks.slice(drop);
      this.starts = this.starts.slice(drop);
      if (this.chunks.length === 0) this.ownsLast = false;
    }
    // ...and cut the one that straddles it, so that compacted entries are freed.
    if (this.chunks.length > 0 && this.starts[0]! <= compactIndex) {
      this.chunks[0] = this.chunks[0]!.slice(compactIndex + 1 - this.starts[0]!);
      this.starts[0] = compactIndex + 1;
      if (this.chunks.length === 1) this.ownsLast = true;
    }
  }

  /**
   * Appends entries, replacing any conflicting suffix. Entries must follow on
   * from the log. A large array is kept as it is: do not modify it afterwards.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // nothing new
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const at = entries[0]!.index;
    const lastIndex = this.lastIndex();
    if (at > lastIndex + 1) {
      panic(this.logger, `missing log entry [last: ${lastIndex}, append at: ${at}]`);
    }
    if (at <= lastIndex) this.truncateFrom(at);
    const n = this.chunks.length;
    if (entries.length <= SMALL_APPEND) {
      if (this.ownsLast && this.chunks[n - 1]!.length + entries.length <= CHUNK_MAX) {
        const chunk = this.chunks[n - 1]!;
        for (let k = 0; k < entries.length; k++) chunk.push(entries[k]!);
      } else {
        this.chunks.push(entries.slice());
        this.starts.push(at);
        this.ownsLast = true;
      }
    } else {
      this.chunks.push(entries);
      this.starts.push(at);
      this.ownsLast = false;
    }
  }

  /** Removes the entries from index `at` on. */
  private truncateFrom(at: number): void {
    let k = this.chunkOf(at);
    const start = this.starts[k]!;
    // The new last chunk is ours only if it is the copied head of this one.
    this.ownsLast = start < at;
    if (start < at) {
      // Keep the head of this chunk (as a copy: the array may be shared).
      this.chunks[k] = this.chunks[k]!.slice(0, at - start);
      k++;
    }
    this.chunks.length = k;
    this.starts.length = k;
  }
}

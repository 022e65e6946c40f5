// The Storage interface raft reads its stable log through, and MemoryStorage,
// an in-memory implementation that applications and tests use as the read
// side of their persistence (append what each Ready hands out, then advance).

import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors.js';
import { discardLogger, type Logger, panic } from './logger.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  newEntry,
  newHardState,
  newSnapshot,
  type Snapshot,
} from './raftpb.js';
import { limitSize } from './util.js';

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

export class MemoryStorage implements Storage {
  private hardState: HardState = newHardState();
  private snap: Snapshot = newSnapshot();
  // ents[0] is a dummy entry holding the index and term of the snapshot (or 0/0).
  private ents: Entry[] = [newEntry()];

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

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) {
      panic(this.logger, `entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new ErrUnavailable();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new ErrCompacted();
    const e = this.ents[i - offset];
    if (e === undefined) throw new ErrUnavailable();
    return e.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the storage's contents with the snapshot. Throws ErrSnapOutOfDate for an older one. */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = snap;
    this.ents = [newEntry({ term: snap.metadata.term, index: snap.metadata.index })];
  }

  /**
   * Records a snapshot of the state machine at applied index i (with the
   * ConfState in force there, if membership changed) and returns it.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    const offset = this.ents[0]!.index;
    if (i > this.lastIndex()) {
      panic(this.logger, `snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      data,
      metadata: {
        index: i,
        term: this.ents[i - offset]!.term,
        confState: cs ?? this.snap.metadata.confState,
      },
    };
    return this.snap;
  }

  /** Discards the entries before compactIndex; compactIndex becomes the dummy entry. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      panic(this.logger, `compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const at = this.ents[i]!;
    // Copy the (short) remainder rather than splice the (long) prefix out.
    const rest = this.ents.slice(i);
    rest[0] = newEntry({ index: at.index, term: at.term });
    this.ents = rest;
  }

  /** Appends entries, replacing any conflicting suffix. Entries must follow on from the log. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // nothing new
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.ents[0]!.index;
    if (this.ents.length > offset) {
      this.ents.length = offset;
      for (let k = 0; k < entries.length; k++) this.ents.push(entries[k]!);
    } else if (this.ents.length === offset) {
      for (let k = 0; k < entries.length; k++) this.ents.push(entries[k]!);
    } else {
      panic(
        this.logger,
        `missing log entry [last: ${this.lastIndex()}, append at: ${entries[0]!.index}]`,
      );
    }
  }
}

// raftLog: the whole log as raft sees it, the stable part in Storage (what
// the application persisted) followed by the Unstable part (what it has not
// yet), plus the commit and applied indexes.
//
//   snapshot/first.....applied....committed....stable.....last
//   ---------|------------------------------------------------|
//                                             log entries

import { ErrCompacted, ErrUnavailable } from './errors.js';
import { Unstable } from './log_unstable.js';
import { type Logger, panic } from './logger.js';
import type { Entry, Snapshot } from './raftpb.js';
import type { Storage } from './storage.js';
import { limitSize, NO_LIMIT } from './util.js';

export class RaftLog {
  readonly unstable: Unstable;
  /** The highest index known to be committed on a quorum. */
  committed: number;
  /** The highest index the application has applied. applied <= committed. */
  applied: number;

  constructor(
    readonly storage: Storage,
    readonly logger: Logger,
    /** The most bytes of committed entries handed out in one Ready. */
    readonly maxNextEntsSize: number = NO_LIMIT,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1, logger);
    // The log starts at the last compaction (the snapshot).
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.entries.length}`;
  }

  /**
   * Appends ents after the entry (index, logTerm) if the log has it, and
   * commits up to min(committed, last new index). Returns the last index of
   * the new entries, or undefined if the log does not match at index.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    ents: Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        panic(
          this.logger,
          `entry ${ci} conflict with committed entry [committed(${this.committed})]`,
        );
      }
      const offset = index + 1;
      this.append(ci === offset ? ents : ents.slice(ci - offset));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) {
      panic(this.logger, `after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry of ents that conflicts with the log (same
   * index, different term) or is new; 0 if all of ents are already there.
   */
  findConflict(ents: Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      const ne = ents[i]!;
      if (!this.matchTerm(ne.index, ne.term)) {
        if (ne.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${ne.index} [existing term: ${this.zeroTermOnOutOfBounds(ne.index)}, conflicting term: ${ne.term}]`,
          );
        }
        return ne.index;
      }
    }
    return 0;
  }

  /**
   * The largest index <= index whose term is <= term: where a follower that
   * rejected an append at (index, term) may match. Lets the leader skip a
   * whole term of divergent entries per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    const li = this.lastIndex();
    if (index > li) {
      this.logger.warn(
        `index(${index}) is out of range [0, lastIndex(${li})] in findConflictByTerm`,
      );
      return index;
    }
    for (;;) {
      let logTerm: number;
      try {
        logTerm = this.term(index);
      } catch {
        break;
      }
      if (logTerm <= term) break;
      index--;
    }
    return index;
  }

  /** The unstable entries, in a fresh array the caller may keep. */
  unstableEntries(): Entry[] {
    return this.unstable.handOut();
  }

  /** Committed entries not yet applied, up to maxNextEntsSize bytes. */
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) {
      try {
        return this.slice(off, this.committed + 1, this.maxNextEntsSize);
      } catch (err) {
        panic(this.logger, `unexpected error when getting unapplied entries (${String(err)})`);
      }
    }
    return [];
  }

  hasNextEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  hasPendingSnapshot(): boolean {
    const s = this.unstable.snapshot;
    return s !== undefined && s.metadata.index !== 0;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(toCommit: number): void {
    // Never decrease the commit index.
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) {
        panic(
          this.logger,
          `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      panic(
        this.logger,
        `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
      );
    }
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    try {
      return this.term(this.lastIndex());
    } catch (err) {
      panic(this.logger, `unexpected error when getting the last term (${String(err)})`);
    }
  }

  /**
   * The term of entry i. 0 for an index outside [firstIndex-1, lastIndex];
   * throws ErrCompacted / ErrUnavailable as the storage does.
   */
  term(i: number): number {
    const u = this.unstable;
    // Fast path: the unstable entries (the leader's hot path).
    if (i >= u.offset) {
      const e = u.entries[i - u.offset];
      if (e !== undefined) return e.term;
    }
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return 0;
    const t = u.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  /** Like term, but 0 for a compacted or unavailable index. */
  zeroTermOnOutOfBounds(i: number): number {
    try {
      return this.term(i);
    } catch (err) {
      if (err instanceof ErrCompacted || err instanceof ErrUnavailable) return 0;
      throw err;
    }
  }

  /** Entries from i to the end, at most maxSize bytes (but at least one). */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  /** Every entry in the log; retries if a compaction races with the read. */
  allEntries(): Entry[] {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        return this.entries(this.firstIndex(), NO_LIMIT);
      } catch (err) {
        if (!(err instanceof ErrCompacted)) throw err;
      }
    }
    panic(this.logger, 'allEntries: storage keeps compacting');
  }

  /**
   * Whether a log ending at (lasti, term) is at least as up to date as ours:
   * a later last term, or the same last term and at least as long.
   */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    try {
      return this.term(i) === term;
    } catch {
      return false;
    }
  }

  /** Commits maxIndex if it is in the current term (Raft §5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnOutOfBounds(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.logger.info(
      `log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`,
    );
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), at most maxSize bytes but at least one. Throws ErrCompacted. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const off = this.unstable.offset;
    let ents: Entry[] | undefined;
    if (lo < off) {
      const shi = Math.min(hi, off);
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, shi, maxSize);
      } catch (err) {
        if (err instanceof ErrUnavailable) {
          panic(this.logger, `entries[${lo}:${shi}) is unavailable from storage`);
        }
        throw err;
      }
      // The stored part is already within maxSize; if the limit cut it short,
      // or nothing unstable is asked for, it is the answer.
      if (stored.length < shi - lo || hi <= off) return stored;
      ents = stored;
    }
    const unstable = this.unstable.slice(Math.max(lo, off), hi);
    if (ents === undefined || ents.length === 0) return limitSize(unstable, maxSize);
    return limitSize(ents.concat(unstable), maxSize);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) panic(this.logger, `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new ErrCompacted();
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) {
      panic(this.logger, `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
    }
  }
}

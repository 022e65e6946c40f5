// The unstable part of the log: entries (and possibly a snapshot) that raft
// has accepted but the application has not yet persisted. entries[i] has
// index offset+i. An incoming snapshot replaces everything; the application
// persists the snapshot before the entries that follow it.

import { type Logger, panic } from './logger.js';
import type { Entry, Snapshot } from './raftpb.js';

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;
  /**
   * Whether `entries` may be referenced from outside (handed out in a Ready,
   * or adopted from a message): then it is copied before being appended to,
   * otherwise appended to in place.
   */
  private shared = false;

  constructor(
    offset: number,
    private readonly logger: Logger,
  ) {
    this.offset = offset;
  }

  /** The first index of the log if the unstable part knows it (a pending snapshot). */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  /** The last index of the log if the unstable part knows it. */
  maybeLastIndex(): number | undefined {
    const n = this.entries.length;
    if (n !== 0) return this.offset + n - 1;
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index;
  }

  /** The term of entry i if the unstable part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    const e = this.entries[i - this.offset];
    return e === undefined ? undefined : e.term;
  }

  /**
   * The application persisted entries up to i (of term t): drop them. A
   * mismatching term means the entry was replaced since, and is kept.
   */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === undefined) return;
    // Only entries in the unstable array can be marked stable (not the snapshot's index).
    if (gt === t && i >= this.offset) {
      const rest = i + 1 - this.offset;
      this.entries = rest >= this.entries.length ? [] : this.entries.slice(rest);
      this.shared = false;
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i)
      this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.shared = false;
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      // Directly follows: append.
      if (this.entries.length === 0) {
        this.entries = ents;
        this.shared = true;
      } else if (this.shared) {
        this.entries = this.entries.concat(ents);
        this.shared = false;
      } else {
        for (let i = 0; i < ents.length; i++) this.entries.push(ents[i]!);
      }
    } else if (after <= this.offset) {
      this.logger.info(`replace the unstable entries from index ${after}`);
      // The log is being truncated to before our current offset: replace it all.
      this.offset = after;
      this.entries = ents;
      this.shared = true;
    } else {
      // Truncate to after (exclusive) and append.
      this.logger.info(`truncate the unstable entries before index ${after}`);
      this.entries = this.slice(this.offset, after).concat(ents);
      this.shared = false;
    }
  }

  /** The entries, for a Ready: the caller may keep the array (it is never modified afterwards). */
  handOut(): Entry[] {
    if (this.entries.length === 0) return [];
    this.shared = true;
    return this.entries;
  }

  /** Entries in [lo, hi); the caller may keep the array (it is never modified afterwards). */
  slice(lo: number, hi: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === this.offset && hi === this.offset + this.entries.length) return this.handOut();
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) panic(this.logger, `invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      panic(this.logger, `unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
  }
}

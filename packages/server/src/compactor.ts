import { parseGoDuration } from '@etcd-ts/auth';
import { type Clock, realClock, type Timer } from './clock.js';
import type { AutoCompactionMode, Logger } from './config.js';

/** What the compactor needs from the server. */
export interface Compactable {
  rev(): number;
  compact(rev: number): Promise<void>;
  isLeader(): boolean;
}

/** etcd's revision compactor checks every 5 minutes. */
export const REVISION_COMPACT_INTERVAL_MS = 5 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/**
 * Parses --auto-compaction-retention as etcd does: for `periodic`, a duration ("1h",
 * "30m", "90s", "1h30m") or a bare number of hours; for `revision`, a revision count.
 * Returns milliseconds (periodic) or revisions (revision); 0 disables.
 */
export function parseRetention(mode: AutoCompactionMode, retention: string): number {
  const r = retention.trim();
  if (mode === 'revision') {
    if (!/^\d+$/.test(r))
      throw new Error(
        `invalid auto-compaction-retention ${JSON.stringify(retention)} for revision mode: must be a revision count`,
      );
    return Number(r);
  }
  if (/^\d+(\.\d+)?$/.test(r)) return Math.round(Number(r) * HOUR_MS);
  let ms: number;
  try {
    ms = parseGoDuration(r);
  } catch {
    ms = -1;
  }
  if (!(ms >= 0))
    throw new Error(
      `invalid auto-compaction-retention ${JSON.stringify(retention)}: expected a duration like 1h or 30m, or hours`,
    );
  return Math.round(ms);
}

/**
 * etcd's auto compactors. Periodic: record the revision every tenth of the period (at
 * most an hour) and, once a period has passed, compact to the revision recorded a
 * period ago. Revision: every 5 minutes, compact to the current revision minus the
 * retention. Only the leader compacts (the compaction goes through raft).
 */
export class AutoCompactor {
  private timer: Timer | undefined;
  private readonly revs: number[] = [];
  private lastSuccess: number;
  private lastRevCompacted = 0;
  private baseInterval: number;

  constructor(
    private readonly mode: AutoCompactionMode,
    private readonly retention: number,
    private readonly target: Compactable,
    private readonly lg: Logger,
    private readonly clock: Clock = realClock,
  ) {
    this.baseInterval = retention;
    this.lastSuccess = clock.now();
  }

  private now(): number {
    return this.clock.now();
  }

  start(): void {
    if (this.retention <= 0) return;
    if (this.mode === 'revision') {
      this.timer = this.clock.every(REVISION_COMPACT_INTERVAL_MS, () => void this.revisionTick());
    } else {
      const retry = Math.max(1, Math.floor(Math.min(this.retention, HOUR_MS) / 10));
      this.lastSuccess = this.now();
      this.revs.push(this.target.rev());
      this.timer = this.clock.every(retry, () => void this.periodicTick(retry));
    }
    this.timer.unref();
  }

  stop(): void {
    this.timer?.cancel();
  }

  private async periodicTick(retry: number): Promise<void> {
    const retentions = Math.floor(this.retention / retry) + 1;
    const due = this.now() - this.lastSuccess >= this.baseInterval;
    if (due && this.target.isLeader() && this.revs.length > 0) {
      if (this.baseInterval === this.retention)
        this.baseInterval = Math.min(this.retention, HOUR_MS);
      const rev = this.revs[0]!;
      this.lg.info(
        { revision: rev, 'compact-period': `${this.retention}ms` },
        'starting auto periodic compaction',
      );
      try {
        await this.target.compact(rev);
        this.lastSuccess = this.now();
        this.lg.info(
          { revision: rev, 'compact-period': `${this.retention}ms` },
          'completed auto periodic compaction',
        );
      } catch (err) {
        if (/compacted/.test(String(err))) this.lastSuccess = this.now();
        else this.lg.warn({ revision: rev, error: String(err) }, 'failed auto periodic compaction');
      }
    }
    this.revs.push(this.target.rev());
    while (this.revs.length > retentions) this.revs.shift();
  }

  private async revisionTick(): Promise<void> {
    if (!this.target.isLeader()) return;
    const rev = this.target.rev() - this.retention;
    if (rev <= 0 || rev === this.lastRevCompacted) return;
    this.lg.info(
      { revision: rev, 'revision-compaction-retention': this.retention },
      'starting auto revision compaction',
    );
    try {
      await this.target.compact(rev);
      this.lastRevCompacted = rev;
      this.lg.info(
        { revision: rev, 'revision-compaction-retention': this.retention },
        'completed auto revision compaction',
      );
    } catch (err) {
      if (/compacted/.test(String(err))) this.lastRevCompacted = rev;
      else this.lg.warn({ revision: rev, error: String(err) }, 'failed auto revision compaction');
    }
  }
}

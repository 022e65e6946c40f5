import type { Backend } from '@etcd-ts/backend';
import type { KeyValue } from './codec.js';
import { decodeKeyValue } from './codec.js';
import { KEY_BUCKET, KVStore, type StoreConfig } from './kvstore.js';
import { bytesToRev, isTombstone, revToBytes } from './revision.js';
import { assertStartRevision, WatchStream, type WatchStreamOptions } from './watch_stream.js';
import {
  type Event,
  type EventBatch,
  type EventFilter,
  Watcher,
  WatcherGroup,
  type WatchSink,
} from './watcher_group.js';

/**
 * A catch-up pass reads at most about this many bytes of history (whole revisions): with
 * large values, etcd's 10,000 entries a pass could mean gigabytes read at once.
 */
export const SYNC_BATCH_BYTES = 16 * 1024 * 1024;

/** etcd's defaults: sync up to 512 unsynced watchers every 100 ms, retry victims every 10 ms. */
export const DEFAULT_SYNC_INTERVAL_MS = 100;
export const DEFAULT_VICTIM_INTERVAL_MS = 10;
export const MAX_WATCHERS_PER_SYNC = 512;
/** Key-bucket entries read per catch-up pass (bounds the memory one pass takes). */
export const DEFAULT_SYNC_BATCH_ENTRIES = 10_000;

const PUT = 0;
const DELETE = 1;

export interface WatchableStoreConfig extends StoreConfig {
  syncInterval?: number;
  victimInterval?: number;
  maxWatchersPerSync?: number;
  syncBatchEntries?: number;
}

/**
 * The KV store with watches (etcd's watchableStore). Watchers are in one of three states:
 * synced (caught up: notified as each write txn ends), unsynced (behind: caught up from
 * the key bucket's history by a background loop, in bounded passes) or victim (their
 * stream was full when an event was due: the batch waits and is retried, never blocking a
 * writer).
 */
export class WatchableStore extends KVStore {
  private readonly synced = new WatcherGroup();
  private readonly unsynced = new WatcherGroup();
  private victims: Array<Map<Watcher, EventBatch>> = [];
  private readonly syncInterval: number;
  private readonly victimInterval: number;
  private readonly maxWatchersPerSync: number;
  private readonly syncBatchEntries: number;
  private syncTimer: NodeJS.Timeout | undefined;
  private victimTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(backend: Backend, config: WatchableStoreConfig = {}) {
    super(backend, config);
    this.syncInterval = config.syncInterval ?? DEFAULT_SYNC_INTERVAL_MS;
    this.victimInterval = config.victimInterval ?? DEFAULT_VICTIM_INTERVAL_MS;
    this.maxWatchersPerSync = config.maxWatchersPerSync ?? MAX_WATCHERS_PER_SYNC;
    this.syncBatchEntries = config.syncBatchEntries ?? DEFAULT_SYNC_BATCH_ENTRIES;
  }

  /** A new stream of watches sharing one bounded response channel. */
  newWatchStream(opts: WatchStreamOptions = {}): WatchStream {
    this.assertOpen();
    return new WatchStream(this, opts);
  }

  /** Watchers in each state (tests and metrics). */
  watcherCounts(): { synced: number; unsynced: number; victims: number } {
    let victims = 0;
    for (const v of this.victims) victims += v.size;
    return { synced: this.synced.size, unsynced: this.unsynced.size, victims };
  }

  /**
   * @internal Registers a watcher (used by WatchStream). startRev 0 or beyond the current
   * revision: synced from the next revision (or from startRev); otherwise unsynced until
   * caught up. A negative startRev is treated as etcd 3.4 treats it: below the compact
   * revision (which is -1 until the first compaction) it is a compacted revision, and the
   * next sync pass cancels the watch with the compact revision; otherwise (-1 on a store
   * never compacted) the watch starts at the next revision, as etcd's first sync pass
   * leaves it, but without etcd's window in which writes before that pass are missed.
   */
  watch(
    id: number,
    key: string,
    end: string | undefined,
    startRev: number,
    sink: WatchSink,
    filters: readonly EventFilter[],
    prevKv: boolean,
    fragment: boolean,
  ): Watcher {
    this.assertOpen();
    assertStartRevision(startRev);
    const w = new Watcher(id, key, end, startRev, sink, filters, prevKv, fragment, (evs) =>
      this.fillPrevKv(evs),
    );
    const cur = this.rev();
    const synced =
      startRev > cur || startRev === 0 || (startRev < 0 && startRev >= this.compactRev());
    if (synced) {
      w.minRev = Math.max(cur + 1, startRev);
      this.synced.add(w);
    } else {
      this.unsynced.add(w);
      this.scheduleSync(0);
    }
    return w;
  }

  /** @internal Removes a watcher wherever it is. */
  cancelWatcher(w: Watcher): void {
    if (w.cancelled) return;
    w.cancelled = true;
    if (this.unsynced.delete(w) || this.synced.delete(w)) return;
    for (const batch of this.victims) if (batch.delete(w)) return;
  }

  /** @internal Sends a progress notification to `w` if it is synced (etcd's progress). */
  progress(w: Watcher): void {
    if (this.synced.has(w))
      w.send({
        watchId: w.id,
        events: [],
        revision: this.rev(),
        compactRevision: 0,
        fragment: false,
      });
  }

  /**
   * @internal When every watcher given is synced, sends one progress notification (with
   * `responseId`) through the first and returns true; otherwise false (etcd's progressIfSync).
   */
  progressIfSync(watchers: Iterable<Watcher>, responseId: number): boolean {
    let first: Watcher | undefined;
    for (const w of watchers) {
      if (!this.synced.has(w)) return false;
      first ??= w;
    }
    if (first !== undefined) {
      first.send({
        watchId: responseId,
        events: [],
        revision: this.rev(),
        compactRevision: 0,
        fragment: false,
      });
    }
    return true;
  }

  /**
   * Replaces the contents from a snapshot's backend (etcd's watchableStore.Restore): every
   * synced watcher goes back to unsynced, to be caught up from the new history.
   */
  override restoreFrom(backend: Backend, beforeRebuild?: () => void): void {
    super.restoreFrom(backend, beforeRebuild);
    for (const w of [...this.synced.watchers]) {
      this.synced.delete(w);
      w.restore = true;
      this.unsynced.add(w);
    }
    if (this.unsynced.size > 0) this.scheduleSync(0);
  }

  /** @internal A stream's consumer made room: retry victims soon. */
  kickVictims(): void {
    if (this.victims.length > 0) this.scheduleVictims(0);
  }

  protected override notify(rev: number, lazyChanges: () => readonly KeyValue[]): void {
    if (this.synced.size === 0) return;
    const changes = lazyChanges();
    const events: Event[] = new Array(changes.length);
    for (let i = 0; i < changes.length; i++) {
      const kv = changes[i]!;
      // Deletes are recorded with create revision 0 and the delete's revision.
      events[i] = { type: kv.createRevision === 0 ? DELETE : PUT, kv, prevKv: undefined };
    }
    let victim: Map<Watcher, EventBatch> | undefined;
    for (const [w, eb] of this.synced.batch(events)) {
      if (
        w.send({
          watchId: w.id,
          events: eb.events,
          revision: rev,
          compactRevision: 0,
          fragment: w.fragment,
        })
      )
        continue;
      // The stream is full: park the batch, never wait for the reader.
      w.minRev = rev + 1;
      w.victim = true;
      victim ??= new Map();
      victim.set(w, eb);
      this.synced.delete(w);
    }
    if (victim !== undefined) this.addVictims(victim);
  }

  private addVictims(batch: Map<Watcher, EventBatch>): void {
    this.victims.push(batch);
    this.scheduleVictims(this.victimInterval);
  }

  /**
   * Retries every victim batch once; delivered watchers go back to synced (or unsynced if
   * they fell behind meanwhile). Returns how many were delivered (etcd's moveVictims).
   */
  moveVictims(): number {
    const victims = this.victims;
    this.victims = [];
    let moved = 0;
    let again: Map<Watcher, EventBatch> | undefined;
    for (const batch of victims) {
      for (const [w, eb] of batch) {
        if (w.cancelled) continue;
        const rev = w.minRev - 1;
        if (
          !w.send({
            watchId: w.id,
            events: eb.events,
            revision: rev,
            compactRevision: 0,
            fragment: w.fragment,
          })
        ) {
          again ??= new Map();
          again.set(w, eb);
          continue;
        }
        moved++;
        w.victim = false;
        if (eb.moreRev !== 0) w.minRev = eb.moreRev;
        if (w.minRev <= this.rev()) this.unsynced.add(w);
        else this.synced.add(w);
      }
    }
    if (again !== undefined) this.victims.push(again);
    if (this.unsynced.size > 0) this.scheduleSync(0);
    return moved;
  }

  /**
   * One catch-up pass (etcd's syncWatchers): picks up to maxWatchersPerSync unsynced
   * watchers, cancels those whose start revision was compacted, reads at most
   * syncBatchEntries revisions of history from the oldest minRev on, and sends each
   * watcher its events. Returns how many watchers remain unsynced.
   */
  syncWatchers(): number {
    if (this.unsynced.size === 0) return 0;
    const curRev = this.rev();
    const compactRev = this.compactRev();
    const chosen: Watcher[] = [];
    let minRev = Number.MAX_SAFE_INTEGER;
    for (const w of this.unsynced.watchers) {
      if (chosen.length >= this.maxWatchersPerSync) break;
      if (w.minRev > curRev) {
        // Only a restore from a snapshot with less history moves such a watcher here (etcd
        // panics otherwise). No history is due to it: it waits in synced for its minRev.
        if (!w.restore)
          this.logger.error(
            { 'watcher-minimum-revision': w.minRev, 'current-revision': curRev },
            'watcher minimum revision exceeds current revision',
          );
        w.restore = false;
        this.unsynced.delete(w);
        this.synced.add(w);
        continue;
      }
      if (w.minRev < compactRev) {
        // Its history is gone: tell it the compact revision and drop it.
        if (
          w.sink.trySend({
            watchId: w.id,
            events: [],
            // etcd's compaction cancel carries no revision (its header says 0).
            revision: 0,
            compactRevision: compactRev,
            fragment: false,
          })
        ) {
          w.compacted = true;
          this.unsynced.delete(w);
        }
        continue;
      }
      if (w.minRev < 1) {
        // A negative start revision that was compacted when the watch began and is not
        // since a restore brought back a smaller compact revision: no history is readable
        // below revision 1, so it follows from the next revision (as watch() starts it).
        w.minRev = curRev + 1;
        this.unsynced.delete(w);
        this.synced.add(w);
        continue;
      }
      chosen.push(w);
      if (w.minRev < minRev) minRev = w.minRev;
    }
    if (chosen.length === 0) return this.unsynced.size;
    const group = new WatcherGroup();
    for (const w of chosen) group.add(w);

    // Read history in one bounded pass; stop at a revision boundary so no revision is split.
    // Values are only valid during the callback: decode (copying) as they come.
    const entries: Array<[Buffer, KeyValue]> = [];
    let bytes = 0;
    let full = false;
    this.backend.forEach(
      KEY_BUCKET,
      (k, v) => {
        entries.push([k, decodeKeyValue(v, true)]);
        bytes += v.length;
        full = entries.length >= this.syncBatchEntries || bytes >= SYNC_BATCH_BYTES;
        return !full;
      },
      revToBytes(minRev, 0),
      revToBytes(curRev + 1, 0),
    );
    let upTo = curRev;
    if (full) {
      const lastMain = bytesToRev(entries[entries.length - 1]![0]).main;
      const firstMain = bytesToRev(entries[0]![0]).main;
      if (lastMain > firstMain) {
        while (entries.length > 0 && bytesToRev(entries[entries.length - 1]![0]).main === lastMain)
          entries.pop();
        upTo = lastMain - 1;
      } else {
        // One huge revision: read the rest of it so it is delivered whole.
        this.backend.forEach(
          KEY_BUCKET,
          (k, v) => {
            entries.push([k, decodeKeyValue(v, true)]);
            return true;
          },
          revToBytes(lastMain, bytesToRev(entries[entries.length - 1]![0]).sub + 1),
          revToBytes(lastMain + 1, 0),
        );
        upTo = lastMain;
      }
    }
    const events: Event[] = [];
    for (const [k, kv] of entries) {
      if (!group.contains(Buffer.from(kv.key).toString('latin1'))) continue;
      if (isTombstone(k)) {
        kv.modRevision = bytesToRev(k).main;
        events.push({ type: DELETE, kv, prevKv: undefined });
      } else {
        events.push({ type: PUT, kv, prevKv: undefined });
      }
    }
    const batches = group.batch(events);
    let victims: Map<Watcher, EventBatch> | undefined;
    for (const w of chosen) {
      if (w.minRev > upTo) continue; // nothing of this pass is due to it yet
      let eb = batches.get(w);
      let solo: WatcherGroup | undefined;
      // A watcher gets this pass's events in as many responses as their size takes, while
      // its stream has room; what does not fit waits for a later pass.
      for (;;) {
        w.minRev = upTo + 1;
        if (eb === undefined) {
          if (upTo === curRev) {
            this.unsynced.delete(w);
            this.synced.add(w);
          }
          break;
        }
        if (eb.moreRev !== 0) w.minRev = eb.moreRev;
        const sent = w.send({
          watchId: w.id,
          events: eb.events,
          revision: curRev,
          compactRevision: 0,
          fragment: w.fragment,
        });
        if (!sent) {
          w.victim = true;
          victims ??= new Map();
          victims.set(w, eb);
          this.unsynced.delete(w);
          break;
        }
        if (eb.moreRev === 0) {
          if (upTo === curRev) {
            this.unsynced.delete(w);
            this.synced.add(w);
          }
          break;
        }
        if (solo === undefined) {
          solo = new WatcherGroup();
          solo.add(w);
        }
        eb = solo.batch(events).get(w);
      }
    }
    if (victims !== undefined) this.addVictims(victims);
    return this.unsynced.size;
  }

  /** prev_kv of each event: the key's value at the revision before the event. */
  private fillPrevKv(events: Event[]): Event[] {
    return events.map((ev) => {
      const kv = ev.kv!;
      let prevKv: KeyValue | undefined;
      try {
        prevKv = this.range(kv.key, undefined, { rev: kv.modRevision - 1 }).kvs[0];
      } catch {
        prevKv = undefined; // compacted meanwhile: etcd sends the event without it
      }
      return { ...ev, prevKv };
    });
  }

  private scheduleSync(delay: number): void {
    if (this.stopped || this.syncTimer !== undefined) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (this.stopped || this.isClosed) return;
      const before = this.unsynced.size;
      let left: number;
      try {
        left = this.syncWatchers();
      } catch (err) {
        // A timer callback must never take the process down: log, retry after the interval.
        this.logger.error({ err, 'unsynced-watchers': before }, 'failed to sync watchers');
        left = before;
      }
      // Keep going at once while passes make progress, as etcd's loop does.
      if (left > 0) this.scheduleSync(left < before ? 0 : this.syncInterval);
    }, delay);
    this.syncTimer.unref();
  }

  private scheduleVictims(delay: number): void {
    if (this.stopped || this.victimTimer !== undefined) return;
    this.victimTimer = setTimeout(() => {
      this.victimTimer = undefined;
      if (this.stopped || this.isClosed) return;
      try {
        this.moveVictims();
      } catch (err) {
        this.logger.error({ err }, 'failed to move watch victims');
      }
      if (this.victims.length > 0) this.scheduleVictims(this.victimInterval);
    }, delay);
    this.victimTimer.unref();
  }

  override async close(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    if (this.victimTimer !== undefined) clearTimeout(this.victimTimer);
    this.syncTimer = undefined;
    this.victimTimer = undefined;
    await super.close();
  }
}

import type { mvccpb } from '@etcd-ts/api';
import { IntervalTree } from './interval_tree.js';

export type Event = mvccpb.Event;

/** What a watcher hands its stream: events, a progress notification or a compaction. */
export interface WatchResponse {
  watchId: number;
  events: Event[];
  /** The store revision when the response was made. */
  revision: number;
  /** Non-zero: the watcher's start revision was compacted; it is cancelled. */
  compactRevision: number;
  /** The watcher asked for fragmentation of large responses (the server splits them). */
  fragment: boolean;
}

/** Drops an event from a watcher's responses when it returns true. */
export type EventFilter = (ev: Event) => boolean;

/** The receiving side a watcher sends to; false means full (the watcher becomes a victim). */
export interface WatchSink {
  trySend(resp: WatchResponse): boolean;
}

/** One watch: a key or a range, from minRev on (etcd's watcher). */
export class Watcher {
  /** Next revision this watcher has not seen. */
  minRev: number;
  /** Waiting to be retried after its stream was full. */
  victim = false;
  /** Cancelled because its start revision was compacted. */
  compacted = false;
  /** Moved back to unsynced by a restore from a snapshot: minRev may exceed the store's. */
  restore = false;
  cancelled = false;

  constructor(
    readonly id: number,
    /** binary string */
    readonly key: string,
    /** undefined: the single key; '': to the end of the keyspace; else exclusive end. */
    readonly end: string | undefined,
    startRev: number,
    readonly sink: WatchSink,
    readonly filters: readonly EventFilter[],
    readonly prevKv: boolean,
    readonly fragment: boolean,
    /** Fills prev_kv when the watcher asked for it. */
    private readonly withPrevKv: (events: Event[]) => Event[],
  ) {
    this.minRev = startRev;
  }

  /**
   * Offers a response: filtered events (an all-filtered batch counts as sent), prev_kv
   * filled in when asked. Never blocks: false means the sink is full.
   */
  send(resp: WatchResponse): boolean {
    const progress = resp.events.length === 0;
    let events = resp.events;
    if (this.filters.length > 0 && !progress) {
      events = events.filter((ev) => !this.filters.some((f) => f(ev)));
      if (events.length === 0) return true;
    }
    if (this.prevKv && events.length > 0) events = this.withPrevKv(events);
    return this.sink.trySend(events === resp.events ? resp : { ...resp, events });
  }
}

/** etcd's watchBatchMaxRevs: one response carries events of at most this many revisions. */
export const WATCH_BATCH_MAX_REVS = 1000;

/**
 * One catch-up response carries at most about this many bytes of keys and values (a whole
 * revision always goes together): etcd has no such bound and builds responses of up to
 * 1000 revisions of full values, which a slow watcher's server holds in memory and most
 * clients refuse (grpc's default 4 MiB receive limit). Events still arrive in order, only in
 * more responses.
 */
export const WATCH_BATCH_MAX_BYTES = 1024 * 1024;

/** The events due to one watcher from one pass (etcd's eventBatch). */
export class EventBatch {
  events: Event[] = [];
  revs = 0;
  /** Key and value bytes of the events so far. */
  bytes = 0;
  /** Non-zero: events from this revision on did not fit; the watcher resumes here. */
  moreRev = 0;

  add(ev: Event): void {
    if (this.moreRev !== 0) return;
    const size = ev.kv!.key.length + ev.kv!.value.length;
    if (this.events.length === 0) {
      this.revs = 1;
      this.bytes = size;
      this.events.push(ev);
      return;
    }
    const last = this.events[this.events.length - 1]!.kv!.modRevision;
    const rev = ev.kv!.modRevision;
    if (rev > last) {
      if (this.revs + 1 > WATCH_BATCH_MAX_REVS || this.bytes >= WATCH_BATCH_MAX_BYTES) {
        this.moreRev = rev;
        return;
      }
      this.revs++;
    }
    this.bytes += size;
    this.events.push(ev);
  }
}

/** The watchers of one state (synced or unsynced), indexed by key and by range. */
export class WatcherGroup {
  readonly watchers = new Set<Watcher>();
  private readonly keyWatchers = new Map<string, Set<Watcher>>();
  private readonly ranges = new IntervalTree<Set<Watcher>>();

  get size(): number {
    return this.watchers.size;
  }

  has(w: Watcher): boolean {
    return this.watchers.has(w);
  }

  add(w: Watcher): void {
    if (this.watchers.has(w)) throw new Error('mvcc: add watcher twice');
    this.watchers.add(w);
    if (w.end === undefined) {
      let set = this.keyWatchers.get(w.key);
      if (set === undefined) {
        set = new Set();
        this.keyWatchers.set(w.key, set);
      }
      set.add(w);
      return;
    }
    const set = this.ranges.find(w.key, w.end);
    if (set !== undefined) set.add(w);
    else this.ranges.insert(w.key, w.end, new Set([w]));
  }

  delete(w: Watcher): boolean {
    if (!this.watchers.delete(w)) return false;
    if (w.end === undefined) {
      const set = this.keyWatchers.get(w.key)!;
      set.delete(w);
      if (set.size === 0) this.keyWatchers.delete(w.key);
      return true;
    }
    const set = this.ranges.find(w.key, w.end)!;
    set.delete(w);
    if (set.size === 0) this.ranges.delete(w.key, w.end);
    return true;
  }

  /** Whether some watcher of the group covers `key`. */
  contains(key: string): boolean {
    return this.keyWatchers.has(key) || this.ranges.intersects(key);
  }

  /** Calls fn for each watcher covering `key`. */
  forEachByKey(key: string, fn: (w: Watcher) => void): void {
    const set = this.keyWatchers.get(key);
    if (set !== undefined) for (const w of set) fn(w);
    this.ranges.stab(key, (ws) => {
      for (const w of ws) fn(w);
    });
  }

  /**
   * Groups `events` (in revision order) per watcher of this group, skipping events below
   * a watcher's minRev (etcd's newWatcherBatch).
   */
  batch(events: readonly Event[]): Map<Watcher, EventBatch> {
    const out = new Map<Watcher, EventBatch>();
    if (this.watchers.size === 0) return out;
    for (const ev of events) {
      const key = Buffer.from(ev.kv!.key).toString('latin1');
      this.forEachByKey(key, (w) => {
        if (ev.kv!.modRevision < w.minRev) return;
        let eb = out.get(w);
        if (eb === undefined) {
          eb = new EventBatch();
          out.set(w, eb);
        }
        eb.add(ev);
      });
    }
    return out;
  }
}

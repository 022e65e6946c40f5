import { keyValueSize } from './codec.js';
import { MvccError } from './errors.js';
import { rangeEndToIndex } from './kvstore.js';
import type { WatchableStore } from './watchable_store.js';
import type { Event, EventFilter, Watcher, WatchResponse, WatchSink } from './watcher_group.js';

/** etcd's chanBufLen: responses a stream buffers before its watchers become victims. */
export const DEFAULT_WATCH_CHANNEL_CAPACITY = 128;
/** etcd's AutoWatchID: ask the stream to pick the id. */
export const AUTO_WATCH_ID = 0;
/** etcd's clientv3.InvalidWatchID: the id of a stream-wide progress notification. */
export const INVALID_WATCH_ID = -1;

/** The filter types of etcdserverpb.WatchCreateRequest. */
export const WatchFilterType = { NOPUT: 0, NODELETE: 1 } as const;

const noPut: EventFilter = (ev) => ev.type === 0;
const noDelete: EventFilter = (ev) => ev.type === 1;

export class WatcherNotExistError extends MvccError {
  constructor() {
    super('mvcc: watcher does not exist');
  }
}

export class EmptyWatcherRangeError extends MvccError {
  constructor() {
    super('mvcc: watcher range is empty');
  }
}

export class DuplicateWatchIdError extends MvccError {
  constructor() {
    super('mvcc: duplicate watch ID provided on the WatchStream');
  }
}

export class WatchStreamClosedError extends MvccError {
  constructor() {
    super('mvcc: watch stream closed');
  }
}

export interface WatchStreamOptions {
  /** Responses buffered before watchers turn victim (default 128). */
  channelCapacity?: number;
}

export interface WatchOptions {
  /** AUTO_WATCH_ID (0, the default) lets the stream choose. */
  id?: number;
  key: Uint8Array;
  /** Wire semantics: empty = the key alone, "\0" = every key >= key, else [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /**
   * First revision to deliver; 0 = from the next one. A negative one is taken as etcd 3.4
   * takes it: -1 on a store never compacted starts from the next revision, any other is a
   * compacted revision (the watch is cancelled with the compact revision, -1 if none).
   */
  startRevision?: number;
  /** WatchFilterType values. */
  filters?: readonly number[];
  prevKv?: boolean;
  fragment?: boolean;
}

/**
 * A set of watches sharing one bounded channel of responses (etcd's WatchStream): watch,
 * cancel, request progress, and receive. The channel never blocks the store: when it is
 * full, watchers whose events are due become victims until the reader catches up.
 */
export class WatchStream implements WatchSink {
  private readonly watchers = new Map<number, Watcher>();
  private nextId = 0;
  private readonly capacity: number;
  /** Buffered responses from `head` on; those before it were taken (and let go). */
  private queue: Array<WatchResponse | undefined> = [];
  private head = 0;
  private waiters: Array<(r: WatchResponse | undefined) => void> = [];
  private closed = false;

  constructor(
    private readonly store: WatchableStore,
    opts: WatchStreamOptions = {},
  ) {
    this.capacity = opts.channelCapacity ?? DEFAULT_WATCH_CHANNEL_CAPACITY;
    if (!(this.capacity >= 1)) throw new RangeError('channelCapacity must be >= 1');
  }

  /** Starts a watch; returns its id. */
  watch(opts: WatchOptions): number {
    if (this.closed) throw new WatchStreamClosedError();
    const end = rangeEndToIndex(opts.rangeEnd);
    const key = Buffer.from(opts.key.buffer, opts.key.byteOffset, opts.key.byteLength).toString(
      'latin1',
    );
    if (end !== undefined && end !== '' && key >= end) throw new EmptyWatcherRangeError();
    const startRevision = opts.startRevision ?? 0;
    assertStartRevision(startRevision);
    let id = opts.id ?? AUTO_WATCH_ID;
    if (id === AUTO_WATCH_ID) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      throw new DuplicateWatchIdError();
    }
    const filters: EventFilter[] = [];
    for (const f of opts.filters ?? []) {
      if (f === WatchFilterType.NOPUT) filters.push(noPut);
      else if (f === WatchFilterType.NODELETE) filters.push(noDelete);
    }
    const w = this.store.watch(
      id,
      key,
      end,
      startRevision,
      this,
      filters,
      opts.prevKv ?? false,
      opts.fragment ?? false,
    );
    this.watchers.set(id, w);
    return id;
  }

  /** Cancels a watch; its pending responses already in the channel stay there. */
  cancel(id: number): void {
    const w = this.watchers.get(id);
    if (w === undefined) throw new WatcherNotExistError();
    this.watchers.delete(id);
    this.store.cancelWatcher(w);
  }

  /** Sends the current revision to watch `id` if it is caught up (etcd's RequestProgress). */
  requestProgress(id: number): void {
    const w = this.watchers.get(id);
    if (w !== undefined) this.store.progress(w);
  }

  /**
   * When every watch of the stream is caught up, sends one progress notification with
   * watch id -1 and returns true; otherwise false, and the caller retries later
   * (etcd's RequestProgressAll).
   */
  requestProgressAll(): boolean {
    return this.store.progressIfSync(this.watchers.values(), INVALID_WATCH_ID);
  }

  /** Ids of the live watches. */
  ids(): number[] {
    return [...this.watchers.keys()];
  }

  /** Responses waiting in the channel. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** @internal WatchSink: false when the channel is full or closed. */
  trySend(resp: WatchResponse): boolean {
    if (this.closed) return false;
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter(resp);
      return true;
    }
    if (this.pending >= this.capacity) return false;
    this.queue.push(resp);
    return true;
  }

  /** The next response without waiting, or undefined when none is buffered. */
  tryRecv(): WatchResponse | undefined {
    const resp = this.queue[this.head];
    if (resp === undefined) return undefined;
    this.queue[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    // Room was made: watchers parked as victims can be retried.
    this.store.kickVictims();
    return resp;
  }

  /** The next response; undefined once the stream is closed and drained. */
  recv(): Promise<WatchResponse | undefined> {
    const r = this.tryRecv();
    if (r !== undefined || this.closed) return Promise.resolve(r);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WatchResponse> {
    for (;;) {
      const r = await this.recv();
      if (r === undefined) return;
      yield r;
    }
  }

  /** Cancels every watch and ends the channel (buffered responses are dropped). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers.values()) this.store.cancelWatcher(w);
    this.watchers.clear();
    this.queue = [];
    this.head = 0;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}

/**
 * A watch's start revision must be a safe integer; negative ones are etcd's (see
 * WatchOptions.startRevision). Checked where the watch is created, never in a timer.
 */
export function assertStartRevision(startRev: number): void {
  if (!Number.isSafeInteger(startRev))
    throw new RangeError(`mvcc: watch start revision ${startRev} is not a safe integer`);
}

/** Encoded size of a varint. */
function varintLen(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/**
 * Splits `events` into fragments for a watch that asked for fragmentation, as etcd's
 * server does: each fragment's encoded events stay under `maxBytes` (a single event
 * larger than that travels alone); `eventSize` gives one event's encoded size. Every
 * fragment but the last goes out with `fragment: true`.
 */
export function fragmentEvents(
  events: readonly Event[],
  maxBytes: number,
  eventSize: (ev: Event) => number,
): Event[][] {
  const sizes = events.map((ev) => {
    const n = eventSize(ev);
    return 1 + varintLen(n) + n; // field tag + length prefix in the WatchResponse
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total < maxBytes || events.length < 2) return [events.slice()];
  const out: Event[][] = [];
  let cur: Event[] = [];
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    if (cur.length > 0 && bytes + sizes[i]! >= maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(events[i]!);
    bytes += sizes[i]!;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Encoded size of an mvccpb.Event (for fragmentEvents). */
export function eventSize(ev: Event): number {
  let n = ev.type !== 0 ? 2 : 0;
  if (ev.kv !== undefined) {
    const s = keyValueSize(ev.kv);
    n += 1 + varintLen(s) + s;
  }
  if (ev.prevKv !== undefined) {
    const s = keyValueSize(ev.prevKv);
    n += 1 + varintLen(s) + s;
  }
  return n;
}

import { etcdserverpb, type mvccpb } from '@etcd-ts/api';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { type Bytes, toBytes } from './bytes.js';
import type { Connection } from './connection.js';
import {
  ErrCanceled,
  ErrCompacted,
  ErrInvalidAuthToken,
  ErrWatchBufferFull,
  ErrWatchCanceled,
  type EtcdError,
  fromServiceError,
  isServiceError,
  knownError,
} from './errors.js';
import { KeyPrefix, op, type RangeOptions } from './kv.js';

/** The id etcd gives responses that belong to no watcher (a progress broadcast, a failed create). */
export const INVALID_WATCH_ID = -1;
/** Responses a watcher buffers for a slow consumer before it fails with ErrWatchBufferFull. */
export const MAX_BUFFERED_WATCH_RESPONSES = 10_000;
/** Back-off between attempts to reopen a broken watch stream. */
const RESUME_BACKOFF_MIN_MS = 50;
/** How often one create may be retried after an invalid-token refusal. */
const MAX_WATCH_REAUTH = 2;
const RESUME_BACKOFF_MAX_MS = 2_000;

export interface WatchOptions extends RangeOptions {
  /** Deliver events from this revision on (history included); the default is "from now". */
  startRevision?: number;
  /** Each event carries the key-value before it. */
  prevKv?: boolean;
  /** Drop put events / delete events server-side. */
  filters?: { noPut?: boolean; noDelete?: boolean };
  /** Ask the server for periodic progress notifications while nothing happens. */
  progressNotify?: boolean;
  /** Let the server split very large responses (they are joined again here). */
  fragment?: boolean;
  /** Stops the watcher (the iteration ends quietly). */
  signal?: AbortSignal;
}

/** One batch of events (or a progress notification) for one watcher. */
export interface WatchResponse {
  header: etcdserverpb.ResponseHeader;
  events: mvccpb.Event[];
  /** No events: the watcher has seen every change up to header.revision. */
  progressNotify: boolean;
}

type Waiter = { resolve: (r: IteratorResult<WatchResponse>) => void; reject: (e: unknown) => void };

/**
 * A watcher: an async iterable of its responses. Breaking out of the loop (or
 * `cancel()`) cancels it on the server; a compaction past its revision ends it with
 * ErrCompacted, other server cancellations with ErrWatchCanceled.
 */
export class Watcher implements AsyncIterable<WatchResponse> {
  /** The watch id on the current stream; INVALID_WATCH_ID while (re)creating. */
  id = INVALID_WATCH_ID;
  /** The revision the next event must have at least: what a resume starts from. */
  nextRevision: number;
  private readonly buffer: WatchResponse[] = [];
  private waiter: Waiter | undefined;
  private failure: unknown;
  private ended = false;
  /** Times this watcher's create was refused for an expired token and retried. */
  authRetries = 0;
  /** Events of a fragmented response collected so far. */
  fragments: mvccpb.Event[] = [];

  constructor(
    private readonly owner: WatchStream,
    readonly request: etcdserverpb.WatchCreateRequest,
    readonly keys: KeyPrefix,
  ) {
    this.nextRevision = request.startRevision;
  }

  get done(): boolean {
    return this.ended;
  }

  /** The create request for (re)creating this watcher on a stream. */
  createRequest(): etcdserverpb.WatchCreateRequest {
    return { ...this.request, startRevision: this.nextRevision, watchId: 0 };
  }

  deliver(response: WatchResponse): void {
    if (this.ended) return;
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: response, done: false });
      return;
    }
    if (this.buffer.length >= MAX_BUFFERED_WATCH_RESPONSES) {
      this.owner.cancel(this);
      this.fail(new ErrWatchBufferFull());
      return;
    }
    this.buffer.push(response);
  }

  /** Ends the iteration: with an error, or quietly when `err` is undefined. */
  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    if (this.waiter !== undefined) {
      const { resolve, reject } = this.waiter;
      this.waiter = undefined;
      if (err === undefined) resolve({ value: undefined, done: true });
      else reject(err);
    }
  }

  /** Stops the watcher; a pending or later `next()` ends the iteration. */
  cancel(): void {
    this.owner.cancel(this);
    this.fail(undefined);
  }

  /** Asks the server for a progress notification on this watcher's stream. */
  requestProgress(): void {
    this.owner.requestProgress();
  }

  next(): Promise<IteratorResult<WatchResponse>> {
    const buffered = this.buffer.shift();
    if (buffered !== undefined) return Promise.resolve({ value: buffered, done: false });
    if (this.ended) {
      if (this.failure !== undefined) {
        const err = this.failure;
        this.failure = undefined;
        return Promise.reject(err);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    return {
      next: () => this.next(),
      return: () => {
        this.cancel();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * Many watchers multiplexed over one gRPC Watch stream. Creates go one at a time (etcd
 * answers them in order); when the stream breaks, every live watcher is re-created on a
 * new stream from the revision after the last one it saw, and events at or below that
 * revision are dropped, so a consumer sees no gap and no duplicate.
 */
export class WatchStream {
  private stream:
    | ClientDuplexStream<etcdserverpb.WatchRequest, etcdserverpb.WatchResponse>
    | undefined;
  private opening = false;
  private readonly byId = new Map<number, Watcher>();
  private readonly toCreate: Watcher[] = [];
  private creating: Watcher | undefined;
  private backoff = RESUME_BACKOFF_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private progressRequested = false;

  constructor(private readonly conn: Connection) {
    conn.onClose(() => this.close());
  }

  watch(key: Bytes, options: WatchOptions = {}, keys = new KeyPrefix(new Uint8Array(0))): Watcher {
    if (this.closed || this.conn.closed) throw new ErrCanceled();
    const range = (op.get(key, options) as { request: etcdserverpb.RangeRequest }).request;
    const { key: k, end } = keys.range(range.key, range.rangeEnd);
    const filters: etcdserverpb.WatchCreateRequest_FilterType[] = [];
    if (options.filters?.noPut === true)
      filters.push(etcdserverpb.WatchCreateRequest_FilterType.NOPUT);
    if (options.filters?.noDelete === true) {
      filters.push(etcdserverpb.WatchCreateRequest_FilterType.NODELETE);
    }
    const request = etcdserverpb.WatchCreateRequest.fromPartial({
      key: k,
      rangeEnd: end,
      startRevision: options.startRevision ?? 0,
      progressNotify: options.progressNotify ?? false,
      filters,
      prevKv: options.prevKv ?? false,
      fragment: options.fragment ?? false,
    });
    const watcher = new Watcher(this, request, keys);
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        watcher.fail(undefined);
        return watcher;
      }
      options.signal.addEventListener('abort', () => watcher.cancel(), { once: true });
    }
    this.toCreate.push(watcher);
    this.pump();
    return watcher;
  }

  /**
   * Asks for a progress notification, broadcast to every watcher of the stream. Sent
   * once the stream is open and the watchers asked for before are created, so they all
   * get it.
   */
  requestProgress(): void {
    this.progressRequested = true;
    this.pump();
  }

  cancel(watcher: Watcher): void {
    const queued = this.toCreate.indexOf(watcher);
    if (queued >= 0) this.toCreate.splice(queued, 1);
    if (watcher.id !== INVALID_WATCH_ID && this.byId.get(watcher.id) === watcher) {
      this.byId.delete(watcher.id);
      this.stream?.write({ cancelRequest: { watchId: watcher.id } });
    }
    // A watcher whose create is in flight is cancelled once its id arrives (onCreated).
    this.closeIfIdle();
  }

  private get live(): number {
    return this.byId.size + this.toCreate.length + (this.creating === undefined ? 0 : 1);
  }

  /** With no watcher left, the stream is closed: an idle client holds no stream open. */
  private closeIfIdle(): void {
    if (this.live > 0 || this.stream === undefined) return;
    const stream = this.stream;
    this.stream = undefined;
    stream.removeAllListeners('data');
    stream.removeAllListeners('error');
    stream.on('error', () => {});
    stream.cancel();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const all = [...this.byId.values(), ...this.toCreate];
    if (this.creating !== undefined) all.push(this.creating);
    this.byId.clear();
    this.toCreate.length = 0;
    this.creating = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) {
      stream.removeAllListeners();
      stream.on('error', () => {});
      stream.cancel();
    }
    for (const w of all) w.fail(undefined);
  }

  /** Opens the stream when needed and sends the next create. */
  private pump(): void {
    if (this.closed) return;
    if (this.stream === undefined) {
      if (!this.opening && this.retryTimer === undefined && this.live > 0) void this.open();
      return;
    }
    if (this.creating !== undefined) return;
    const next = this.toCreate.shift();
    if (next === undefined) {
      if (this.progressRequested) {
        this.progressRequested = false;
        this.stream.write({ progressRequest: {} });
      }
      return;
    }
    this.creating = next;
    this.stream.write({ createRequest: next.createRequest() });
  }

  private async open(): Promise<void> {
    this.opening = true;
    let stream: ClientDuplexStream<etcdserverpb.WatchRequest, etcdserverpb.WatchResponse>;
    try {
      stream = await this.conn.bidi(etcdserverpb.WatchService.watch, { requireLeader: true });
    } catch (err) {
      this.opening = false;
      this.onStreamFailure(err);
      return;
    }
    this.opening = false;
    if (this.closed) {
      stream.on('error', () => {});
      stream.cancel();
      return;
    }
    this.stream = stream;
    stream.on('data', (response: etcdserverpb.WatchResponse) => this.onResponse(response));
    stream.on('error', (err: unknown) => this.onBroken(stream, err));
    stream.on('end', () => this.onBroken(stream, undefined));
    this.pump();
  }

  private onBroken(stream: unknown, err: unknown): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    // Every watcher is created again on the next stream, from where it left off.
    const resume = [...this.byId.values()];
    if (this.creating !== undefined) resume.unshift(this.creating);
    this.creating = undefined;
    this.byId.clear();
    for (const w of resume) {
      w.id = INVALID_WATCH_ID;
      w.fragments = [];
    }
    this.toCreate.unshift(...resume);
    this.onStreamFailure(err);
  }

  private onStreamFailure(err: unknown): void {
    if (this.closed) return;
    const typed = isServiceError(err) ? fromServiceError(err) : err;
    if (typed instanceof ErrInvalidAuthToken) this.conn.invalidateToken();
    if (typed instanceof ErrCanceled && this.conn.closed) return;
    if (this.live === 0) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, RESUME_BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  private onResponse(response: etcdserverpb.WatchResponse): void {
    this.backoff = RESUME_BACKOFF_MIN_MS;
    const header = response.header ?? { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
    if (response.created) {
      this.onCreated(response, header);
      return;
    }
    if (response.watchId === INVALID_WATCH_ID) {
      // A progress notification for the whole stream (requestProgress). etcd 3.4 sends it
      // with the store's revision even to watchers still catching up on history, so it
      // says nothing about what they have seen: it must not move their resume point.
      for (const w of this.byId.values()) w.deliver({ header, events: [], progressNotify: true });
      return;
    }
    const watcher = this.byId.get(response.watchId);
    if (watcher === undefined) return;
    if (response.canceled) {
      this.byId.delete(response.watchId);
      watcher.fail(
        response.compactRevision > 0
          ? new ErrCompacted(response.compactRevision)
          : cancelError(response.cancelReason),
      );
      this.closeIfIdle();
      return;
    }
    if (response.fragment) {
      watcher.fragments.push(...response.events);
      return;
    }
    let events = response.events;
    if (watcher.fragments.length > 0) {
      events = [...watcher.fragments, ...events];
      watcher.fragments = [];
    }
    if (events.length === 0) {
      this.progress(watcher, header);
      return;
    }
    // After a resume the new stream may repeat what the old one delivered: drop those.
    const fresh = events.filter((e) => (e.kv?.modRevision ?? 0) >= watcher.nextRevision);
    if (fresh.length === 0) return;
    watcher.nextRevision = (fresh[fresh.length - 1]!.kv?.modRevision ?? 0) + 1;
    watcher.deliver({
      header,
      events: watcher.keys.empty ? fresh : fresh.map((e) => stripEvent(watcher.keys, e)),
      progressNotify: false,
    });
  }

  private progress(watcher: Watcher, header: etcdserverpb.ResponseHeader): void {
    // etcd sends a watcher its own progress notifications only once it is synced: every
    // change up to header.revision has been sent to it.
    if (header.revision + 1 > watcher.nextRevision) watcher.nextRevision = header.revision + 1;
    watcher.deliver({ header, events: [], progressNotify: true });
  }

  private onCreated(
    response: etcdserverpb.WatchResponse,
    header: etcdserverpb.ResponseHeader,
  ): void {
    const watcher = this.creating;
    this.creating = undefined;
    if (watcher !== undefined) {
      const failed = response.canceled || response.watchId === INVALID_WATCH_ID;
      if (
        failed &&
        cancelError(response.cancelReason) instanceof ErrInvalidAuthToken &&
        watcher.authRetries < MAX_WATCH_REAUTH
      ) {
        // The stream's token expired: log in again and re-open the stream with it.
        watcher.authRetries++;
        this.conn.invalidateToken();
        this.toCreate.unshift(watcher);
        this.stream?.cancel();
        return;
      }
      if (failed) {
        watcher.fail(
          response.compactRevision > 0
            ? new ErrCompacted(response.compactRevision)
            : cancelError(response.cancelReason),
        );
      } else if (watcher.done) {
        // Cancelled while its create was in flight.
        this.stream?.write({ cancelRequest: { watchId: response.watchId } });
      } else {
        watcher.id = response.watchId;
        this.byId.set(response.watchId, watcher);
        // "From now" means from the revision after the one the server was at.
        if (watcher.nextRevision === 0) watcher.nextRevision = header.revision + 1;
      }
    }
    this.pump();
    this.closeIfIdle();
  }
}

/**
 * A cancel reason that is one of etcd's errors (permission denied...) becomes that error.
 * The server may send it in Go's `rpc error: code = X desc = Y` form.
 */
function cancelError(reason: string): EtcdError {
  const desc = /^rpc error: code = \w+ desc = (.*)$/s.exec(reason)?.[1] ?? reason;
  return knownError(desc) ?? new ErrWatchCanceled(reason);
}

function stripEvent(keys: KeyPrefix, e: mvccpb.Event): mvccpb.Event {
  return { ...e, kv: keys.kv(e.kv), prevKv: keys.kv(e.prevKv) };
}

/** The watch API bound to a key prefix (the client's own, or a namespace's). */
export class Watch {
  constructor(
    private readonly stream: WatchStream,
    private readonly keys: KeyPrefix,
  ) {}

  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    return this.stream.watch(toBytes(key), options, this.keys);
  }

  requestProgress(): void {
    this.stream.requestProgress();
  }
}

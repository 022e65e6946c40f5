import type { etcdserverpb } from '@etcd-ts/api';
import { eventSize, fragmentEvents, type WatchStream } from '@etcd-ts/mvcc';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Timer } from '../clock.js';
import { toGrpcError } from '../errors.js';
import type { Watch } from '../v3/watch.js';
import type { CallerOf } from './caller.js';

type WatchRequest = etcdserverpb.WatchRequest;
type WatchResponse = etcdserverpb.WatchResponse;

/** Retry period of a stream-wide progress request while some watcher is catching up. */
const PROGRESS_RETRY_MS = 100;

/**
 * etcd's Watch service: one mvcc WatchStream per gRPC stream, many watchers on it.
 * Control responses (created, canceled) are written as the requests arrive; events flow
 * from the stream's bounded channel, fragmented for watchers that asked, and a watcher
 * whose start revision was compacted is cancelled with the compact revision.
 */
export function watchService(w: Watch, callerOf: CallerOf): etcdserverpb.WatchServer {
  return {
    watch: (call: ServerDuplexStream<WatchRequest, WatchResponse>) => {
      new ServerWatchStream(w, call, callerOf).run();
    },
  };
}

class ServerWatchStream {
  private readonly ws: WatchStream;
  private readonly progress = new Set<number>();
  private progressTimer: Timer | undefined;
  private progressAllTimer: Timer | undefined;
  private closed = false;
  /** Requests are handled one at a time, in order (a create may wait on auth). */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly w: Watch,
    private readonly call: ServerDuplexStream<WatchRequest, WatchResponse>,
    private readonly callerOf: CallerOf,
  ) {
    this.ws = w.newStream();
  }

  run(): void {
    this.call.on('data', (req: WatchRequest) => {
      this.chain = this.chain.then(() => this.handle(req)).catch(() => this.close());
    });
    this.call.on('end', () => this.close(true));
    this.call.on('error', () => this.close());
    this.call.on('cancelled', () => this.close());
    this.progressTimer = this.w.clock.every(this.w.progressNotifyIntervalMs, () => {
      for (const id of this.progress) this.ws.requestProgress(id);
    });
    this.progressTimer.unref();
    void this.sendLoop();
  }

  /** Writes a response; false when grpc-js's buffer is full and the sender must wait. */
  private write(resp: WatchResponse): boolean {
    if (this.closed) return true;
    return this.call.write(resp);
  }

  /**
   * Waits until the client has read what grpc-js buffers (or the stream ends): while it
   * waits, events stay in the mvcc stream's bounded channel and, once that is full, its
   * watchers become victims that are caught up from the store later. So a client that
   * stops reading holds at most the channel's responses and one write's events per watcher
   * in memory, not every event that happens meanwhile.
   */
  private async drained(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.call.off('drain', done);
        this.call.off('close', done);
        this.call.off('cancelled', done);
        resolve();
      };
      this.call.on('drain', done);
      this.call.on('close', done);
      this.call.on('cancelled', done);
    });
  }

  private async handle(req: WatchRequest): Promise<void> {
    if (this.closed) return;
    if (req.createRequest !== undefined) await this.create(req.createRequest);
    else if (req.cancelRequest !== undefined) this.cancel(req.cancelRequest.watchId);
    else if (req.progressRequest !== undefined) this.requestProgressAll();
  }

  private async create(c: etcdserverpb.WatchCreateRequest): Promise<void> {
    // etcd's rules: no key means "\0"; an empty range end the single key.
    const key = c.key.length === 0 ? new Uint8Array([0]) : c.key;
    try {
      await this.w.checkPermitted(this.callerOf(this.call), key, c.rangeEnd);
    } catch (err) {
      this.write({
        header: this.w.header(),
        watchId: -1,
        created: true,
        canceled: true,
        compactRevision: 0,
        // The refusal's text as etcd sends it (etcdserver: permission denied...).
        cancelReason: toGrpcError(err).details ?? '',
        fragment: false,
        events: [],
      });
      return;
    }
    const rev = this.w.header().revision;
    let id = -1;
    let reason: string | undefined;
    try {
      id = this.ws.watch({
        id: c.watchId,
        key,
        rangeEnd: c.rangeEnd,
        startRevision: c.startRevision,
        filters: c.filters,
        prevKv: c.prevKv,
        fragment: c.fragment,
      });
      if (c.progressNotify) this.progress.add(id);
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    this.write({
      header: this.w.header(rev),
      watchId: id,
      created: true,
      canceled: reason !== undefined,
      compactRevision: 0,
      cancelReason: reason ?? '',
      fragment: false,
      events: [],
    });
  }

  private cancel(id: number): void {
    try {
      this.ws.cancel(id);
    } catch {
      return;
    }
    this.progress.delete(id);
    this.write({
      header: this.w.header(),
      watchId: id,
      created: false,
      canceled: true,
      compactRevision: 0,
      cancelReason: '',
      fragment: false,
      events: [],
    });
  }

  /** A stream-wide progress notification, sent once every watcher is caught up. */
  private requestProgressAll(): void {
    if (this.ws.requestProgressAll()) return;
    if (this.progressAllTimer !== undefined) return;
    this.progressAllTimer = this.w.clock.every(PROGRESS_RETRY_MS, () => {
      if (this.closed || this.ws.requestProgressAll()) {
        this.progressAllTimer?.cancel();
        this.progressAllTimer = undefined;
      }
    });
  }

  private async sendLoop(): Promise<void> {
    for await (const r of this.ws) {
      if (this.closed) return;
      const canceled = r.compactRevision !== 0;
      const base = {
        // The response's own revision, 0 included (a compaction cancel), as etcd sends it.
        header: this.w.headerAt(r.revision),
        watchId: r.watchId,
        created: false,
        canceled,
        compactRevision: r.compactRevision,
        cancelReason: '',
      };
      if (canceled) this.progress.delete(r.watchId);
      if (!r.fragment || r.events.length < 2) {
        if (!this.write({ ...base, fragment: false, events: r.events })) await this.drained();
        continue;
      }
      const parts = fragmentEvents(r.events, this.w.maxResponseBytes, eventSize);
      for (const [i, events] of parts.entries())
        if (!this.write({ ...base, fragment: i < parts.length - 1, events })) await this.drained();
    }
  }

  private close(graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    this.progressTimer?.cancel();
    this.progressAllTimer?.cancel();
    this.ws.close();
    if (graceful) this.call.end();
  }
}

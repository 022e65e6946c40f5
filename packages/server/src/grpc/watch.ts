import type { etcdserverpb } from '@etcd-ts/api';
import { eventSize, fragmentEvents, type WatchStream } from '@etcd-ts/mvcc';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { EtcdServer } from '../server.js';

type WatchRequest = etcdserverpb.WatchRequest;
type WatchResponse = etcdserverpb.WatchResponse;

/** Retry period of a stream-wide progress request while some watcher is catching up. */
const PROGRESS_RETRY_MS = 100;

/** Checks whether the stream's user may watch a range (throws when refused). */
export type WatchAuthorizer = (
  call: ServerDuplexStream<WatchRequest, WatchResponse>,
  key: Uint8Array,
  rangeEnd: Uint8Array,
) => Promise<void>;

/**
 * etcd's Watch service: one mvcc WatchStream per gRPC stream, many watchers on it.
 * Control responses (created, canceled) are written as the requests arrive; events flow
 * from the stream's bounded channel, fragmented for watchers that asked, and a watcher
 * whose start revision was compacted is cancelled with the compact revision.
 */
export function watchService(s: EtcdServer, authorize?: WatchAuthorizer): etcdserverpb.WatchServer {
  return {
    watch: (call: ServerDuplexStream<WatchRequest, WatchResponse>) => {
      new ServerWatchStream(s, call, authorize).run();
    },
  };
}

class ServerWatchStream {
  private readonly ws: WatchStream;
  private readonly progress = new Set<number>();
  private progressTimer: NodeJS.Timeout | undefined;
  private progressAllTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Requests are handled one at a time, in order (a create may wait on auth). */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly s: EtcdServer,
    private readonly call: ServerDuplexStream<WatchRequest, WatchResponse>,
    private readonly authorize: WatchAuthorizer | undefined,
  ) {
    this.ws = s.kv.newWatchStream();
  }

  run(): void {
    this.call.on('data', (req: WatchRequest) => {
      this.chain = this.chain.then(() => this.handle(req)).catch(() => this.close());
    });
    this.call.on('end', () => this.close(true));
    this.call.on('error', () => this.close());
    this.call.on('cancelled', () => this.close());
    this.progressTimer = setInterval(() => {
      for (const id of this.progress) this.ws.requestProgress(id);
    }, this.s.cfg.watchProgressNotifyIntervalMs);
    this.progressTimer.unref();
    void this.sendLoop();
  }

  private write(resp: WatchResponse): void {
    if (this.closed) return;
    this.call.write(resp);
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
    if (this.authorize !== undefined) {
      try {
        await this.authorize(this.call, key, c.rangeEnd);
      } catch (err) {
        this.write({
          header: this.s.header(),
          watchId: -1,
          created: true,
          canceled: true,
          compactRevision: 0,
          cancelReason: (err as Error).message,
          fragment: false,
          events: [],
        });
        return;
      }
    }
    const rev = this.s.kv.rev();
    let id = -1;
    let err: Error | undefined;
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
      err = e as Error;
    }
    this.write({
      header: this.s.header(rev),
      watchId: id,
      created: true,
      canceled: err !== undefined,
      compactRevision: 0,
      cancelReason: err?.message ?? '',
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
      header: this.s.header(),
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
    this.progressAllTimer = setInterval(() => {
      if (this.closed || this.ws.requestProgressAll()) {
        clearInterval(this.progressAllTimer);
        this.progressAllTimer = undefined;
      }
    }, PROGRESS_RETRY_MS);
  }

  private async sendLoop(): Promise<void> {
    for await (const r of this.ws) {
      if (this.closed) return;
      const canceled = r.compactRevision !== 0;
      const base = {
        header: this.s.header(r.revision),
        watchId: r.watchId,
        created: false,
        canceled,
        compactRevision: r.compactRevision,
        cancelReason: '',
      };
      if (canceled) this.progress.delete(r.watchId);
      if (!r.fragment || r.events.length < 2) {
        this.write({ ...base, fragment: false, events: r.events });
        continue;
      }
      const parts = fragmentEvents(r.events, this.s.cfg.maxRequestBytes, eventSize);
      parts.forEach((events, i) => {
        this.write({ ...base, fragment: i < parts.length - 1, events });
      });
    }
  }

  private close(graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.progressTimer);
    clearInterval(this.progressAllTimer);
    this.ws.close();
    if (graceful) this.call.end();
  }
}

import { etcdserverpb } from '@etcd-ts/api';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { CallOptions, Connection } from './connection.js';
import {
  ErrCanceled,
  ErrDeadlineExceeded,
  ErrInvalidAuthToken,
  ErrKeepAliveHalted,
  ErrLeaseNotFound,
  type EtcdError,
  fromServiceError,
  isServiceError,
  knownError,
} from './errors.js';

/** How often the keep-alive loop looks for leases due for renewal (clientv3: 500 ms). */
export const KEEPALIVE_TICK_MS = 500;
const STREAM_RETRY_MIN_MS = 100;
const STREAM_RETRY_MAX_MS = 2_000;

type Waiter = {
  resolve: (r: IteratorResult<etcdserverpb.LeaseKeepAliveResponse>) => void;
  reject: (e: unknown) => void;
};

/**
 * A lease kept alive: an async iterable of the renewals (only the newest is kept for a
 * slow reader, as clientv3 does), `lost` which settles with the reason when renewals
 * stop (the lease expired or was revoked, or could not be renewed before its TTL ran
 * out), and `close()` to stop renewing (the lease then expires by its TTL).
 */
export class LeaseKeepAlive implements AsyncIterable<etcdserverpb.LeaseKeepAliveResponse> {
  private latest: etcdserverpb.LeaseKeepAliveResponse | undefined;
  private waiter: Waiter | undefined;
  private ended = false;
  private failure: EtcdError | undefined;
  private resolveLost!: (err: EtcdError) => void;
  /** Settles (never rejects) with why renewals stopped; never settles after close(). */
  readonly lost: Promise<EtcdError>;

  constructor(
    readonly id: bigint,
    private readonly owner: KeepAliveLoop,
  ) {
    this.lost = new Promise((resolve) => {
      this.resolveLost = resolve;
    });
  }

  get done(): boolean {
    return this.ended;
  }

  deliver(response: etcdserverpb.LeaseKeepAliveResponse): void {
    if (this.ended) return;
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: response, done: false });
    } else {
      this.latest = response;
    }
  }

  fail(err: EtcdError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = err;
    if (err !== undefined) this.resolveLost(err);
    if (this.waiter !== undefined) {
      const { resolve, reject } = this.waiter;
      this.waiter = undefined;
      if (err === undefined) resolve({ value: undefined, done: true });
      else reject(err);
    }
  }

  /** Stops renewing this lease. */
  close(): void {
    this.owner.remove(this);
    this.fail(undefined);
  }

  next(): Promise<IteratorResult<etcdserverpb.LeaseKeepAliveResponse>> {
    if (this.latest !== undefined) {
      const value = this.latest;
      this.latest = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) {
      return this.failure === undefined
        ? Promise.resolve({ value: undefined, done: true })
        : Promise.reject(this.failure);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<etcdserverpb.LeaseKeepAliveResponse> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

interface KeptLease {
  readonly handles: Set<LeaseKeepAlive>;
  /** When to send the next renewal (ms since epoch). */
  nextKeepAlive: number;
  /** When the lease expires unless renewed (ms since epoch). */
  deadline: number;
}

/**
 * All keep-alives of a client over one LeaseKeepAlive stream: each lease is renewed a
 * third of its TTL after the last renewal, and given up when its TTL runs out without
 * one (the server has then expired it).
 */
export class KeepAliveLoop {
  private readonly leases = new Map<bigint, KeptLease>();
  private stream:
    | ClientDuplexStream<etcdserverpb.LeaseKeepAliveRequest, etcdserverpb.LeaseKeepAliveResponse>
    | undefined;
  private opening = false;
  private ticker: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoff = STREAM_RETRY_MIN_MS;
  private closed = false;

  constructor(
    private readonly conn: Connection,
    private readonly firstKeepAliveTimeoutMs: number,
  ) {
    conn.onClose(() => this.close());
  }

  add(id: bigint): LeaseKeepAlive {
    if (this.closed) throw new ErrCanceled();
    const handle = new LeaseKeepAlive(id, this);
    let lease = this.leases.get(id);
    if (lease === undefined) {
      const now = Date.now();
      lease = {
        handles: new Set(),
        nextKeepAlive: now,
        deadline: now + this.firstKeepAliveTimeoutMs,
      };
      this.leases.set(id, lease);
    }
    lease.handles.add(handle);
    this.start();
    this.sendDue();
    return handle;
  }

  remove(handle: LeaseKeepAlive): void {
    const lease = this.leases.get(handle.id);
    if (lease === undefined) return;
    lease.handles.delete(handle);
    if (lease.handles.size === 0) this.leases.delete(handle.id);
    if (this.leases.size === 0) this.stop();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    for (const lease of this.leases.values()) for (const h of lease.handles) h.fail(undefined);
    this.leases.clear();
  }

  private start(): void {
    if (this.ticker === undefined) {
      this.ticker = setInterval(() => this.tick(), KEEPALIVE_TICK_MS);
    }
    if (this.stream === undefined && !this.opening && this.retryTimer === undefined)
      void this.open();
  }

  /** With nothing to keep alive, no timer and no stream stay open. */
  private stop(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    if (stream !== undefined) {
      stream.removeAllListeners();
      stream.on('error', () => {});
      stream.cancel();
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const [id, lease] of this.leases) {
      if (now > lease.deadline) {
        this.leases.delete(id);
        for (const h of lease.handles)
          h.fail(new ErrKeepAliveHalted('lease keepalive deadline exceeded'));
      }
    }
    if (this.leases.size === 0) {
      this.stop();
      return;
    }
    this.sendDue();
  }

  private sendDue(): void {
    const stream = this.stream;
    if (stream === undefined) return;
    const now = Date.now();
    for (const [id, lease] of this.leases) {
      if (lease.nextKeepAlive <= now) {
        stream.write({ ID: id });
        // Until an answer comes, ask again at the next tick but one.
        lease.nextKeepAlive = now + 2 * KEEPALIVE_TICK_MS;
      }
    }
  }

  private async open(): Promise<void> {
    this.opening = true;
    try {
      const stream = await this.conn.bidi(etcdserverpb.LeaseService.leaseKeepAlive, {
        requireLeader: true,
      });
      this.opening = false;
      if (this.closed || this.leases.size === 0) {
        stream.on('error', () => {});
        stream.cancel();
        return;
      }
      this.stream = stream;
      stream.on('data', (r: etcdserverpb.LeaseKeepAliveResponse) => this.onResponse(r));
      stream.on('error', (err: unknown) => this.onBroken(stream, err));
      stream.on('end', () => this.onBroken(stream, undefined));
      // A fresh stream renews everything at once.
      for (const lease of this.leases.values()) lease.nextKeepAlive = 0;
      this.sendDue();
    } catch (err) {
      this.opening = false;
      this.onBroken(undefined, err);
    }
  }

  private onBroken(stream: unknown, err: unknown): void {
    if (stream !== undefined && stream !== this.stream) return;
    this.stream = undefined;
    if (this.closed || this.leases.size === 0) return;
    const typed = isServiceError(err) ? fromServiceError(err) : err;
    if (typed instanceof ErrInvalidAuthToken) this.conn.invalidateToken();
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, STREAM_RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && this.leases.size > 0) void this.open();
    }, delay);
  }

  private onResponse(response: etcdserverpb.LeaseKeepAliveResponse): void {
    this.backoff = STREAM_RETRY_MIN_MS;
    const lease = this.leases.get(response.ID);
    if (lease === undefined) return;
    if (response.TTL <= 0) {
      // The lease is gone (expired or revoked): nothing more to renew.
      this.leases.delete(response.ID);
      for (const h of lease.handles) h.fail(new ErrLeaseNotFound());
      if (this.leases.size === 0) this.stop();
      return;
    }
    const now = Date.now();
    lease.nextKeepAlive = now + (response.TTL * 1000) / 3;
    lease.deadline = now + response.TTL * 1000;
    for (const h of lease.handles) h.deliver(response);
  }
}

/** The lease API (clientv3's Lease). */
export class Lease {
  constructor(
    private readonly conn: Connection,
    private readonly loop: KeepAliveLoop,
  ) {}

  /** Grants a lease of `ttl` seconds (with the given id, or one the server picks). */
  async grant(
    ttl: number,
    options: { id?: bigint } & CallOptions = {},
  ): Promise<etcdserverpb.LeaseGrantResponse> {
    const response = await this.conn.unary(
      etcdserverpb.LeaseService.leaseGrant,
      { TTL: ttl, ID: options.id ?? 0n },
      'mutation',
      options,
    );
    if (response.error !== '') throw knownError(response.error) ?? new Error(response.error);
    return response;
  }

  /** Revokes a lease: every key attached to it is deleted. */
  revoke(id: bigint, options: CallOptions = {}): Promise<etcdserverpb.LeaseRevokeResponse> {
    return this.conn.unary(
      etcdserverpb.LeaseService.leaseRevoke,
      { ID: id },
      'idempotent',
      options,
    );
  }

  /** Remaining and granted TTL (-1 once expired), and the attached keys with `keys`. */
  timeToLive(
    id: bigint,
    options: { keys?: boolean } & CallOptions = {},
  ): Promise<etcdserverpb.LeaseTimeToLiveResponse> {
    return this.conn.unary(
      etcdserverpb.LeaseService.leaseTimeToLive,
      { ID: id, keys: options.keys ?? false },
      'idempotent',
      options,
    );
  }

  /** Every live lease. */
  leases(options: CallOptions = {}): Promise<etcdserverpb.LeaseLeasesResponse> {
    return this.conn.unary(etcdserverpb.LeaseService.leaseLeases, {}, 'idempotent', options);
  }

  /** Renews a lease once. Fails with ErrLeaseNotFound when it no longer exists. */
  async keepAliveOnce(
    id: bigint,
    options: CallOptions = {},
  ): Promise<etcdserverpb.LeaseKeepAliveResponse> {
    const stream = await this.conn.bidi(etcdserverpb.LeaseService.leaseKeepAlive, options);
    try {
      const response = await new Promise<etcdserverpb.LeaseKeepAliveResponse>((resolve, reject) => {
        const timer =
          options.timeout === undefined
            ? undefined
            : setTimeout(() => reject(new ErrDeadlineExceeded()), options.timeout);
        stream.once('data', (r: etcdserverpb.LeaseKeepAliveResponse) => {
          clearTimeout(timer);
          resolve(r);
        });
        stream.once('error', (err: unknown) => {
          clearTimeout(timer);
          reject(isServiceError(err) ? fromServiceError(err) : err);
        });
        stream.write({ ID: id });
      });
      if (response.TTL <= 0) throw new ErrLeaseNotFound();
      return response;
    } finally {
      stream.removeAllListeners();
      stream.on('error', () => {});
      stream.cancel();
    }
  }

  /** Keeps a lease alive until `close()`d or lost; see LeaseKeepAlive. */
  keepAlive(id: bigint): LeaseKeepAlive {
    return this.loop.add(id);
  }
}

// Sessions, mutexes, elections and software transactional memory on top of the KV,
// lease and watch APIs, with clientv3/concurrency's key layout: a session's keys are
// `<prefix>/<lease id in hex>` and the holder (leader) is the key with the lowest create
// revision under the prefix, so Go programs using clientv3/concurrency and this module
// queue on the same keys.
import type { etcdserverpb, mvccpb } from '@etcd-ts/api';
import { type Bytes, toBytes, toText } from './bytes.js';
import type { Client } from './client.js';
import { ErrCanceled, ErrLeaseNotFound, EtcdError } from './errors.js';
import { type Compare, compare, type Op, op } from './kv.js';
import type { LeaseKeepAlive } from './lease.js';

/** clientv3/concurrency's default session TTL (seconds). */
export const DEFAULT_SESSION_TTL = 60;

export class ErrElectionNotLeader extends EtcdError {
  static readonly message = 'election: not leader';
  constructor() {
    super(ErrElectionNotLeader.message, 9);
  }
}

export class ErrElectionNoLeader extends EtcdError {
  static readonly message = 'election: no leader';
  constructor() {
    super(ErrElectionNoLeader.message, 5);
  }
}

export class ErrLocked extends EtcdError {
  static readonly message = 'mutex: Locked by another session';
  constructor() {
    super(ErrLocked.message, 9);
  }
}

export class ErrSessionExpired extends EtcdError {
  static readonly message = 'mutex: session is expired';
  constructor() {
    super(ErrSessionExpired.message, 9);
  }
}

/**
 * A lease kept alive for as long as the session is open: what ties a lock or a
 * candidacy to the process holding it. If the process dies, the lease expires and its
 * keys go away.
 */
export class Session {
  private readonly keepAlive: LeaseKeepAlive;
  private closed = false;
  private ended!: () => void;
  /** Settles when the session's lease is lost (expired, revoked) or the session closes. */
  readonly done: Promise<void>;

  private constructor(
    readonly client: Client,
    readonly lease: bigint,
    readonly ttl: number,
  ) {
    const keepAlive = client.lease.keepAlive(lease);
    this.keepAlive = keepAlive;
    this.done = new Promise<void>((resolve) => {
      this.ended = resolve;
    });
    void keepAlive.lost.then(() => this.ended());
    // Consume the renewals so the keep-alive never buffers; losing the lease ends it.
    void (async () => {
      try {
        for await (const _ of keepAlive);
      } catch {
        // The loss is reported through `done`.
      }
    })();
  }

  /** Opens a session on a new lease of `ttl` seconds, or on an existing lease. */
  static async create(
    client: Client,
    options: { ttl?: number; lease?: bigint } = {},
  ): Promise<Session> {
    const ttl = options.ttl !== undefined && options.ttl > 0 ? options.ttl : DEFAULT_SESSION_TTL;
    const lease = options.lease ?? (await client.lease.grant(ttl)).ID;
    return new Session(client, lease, ttl);
  }

  /** Stops renewing without revoking: the lease (and its keys) live until their TTL. */
  orphan(): void {
    if (this.closed) return;
    this.closed = true;
    this.keepAlive.close();
    this.ended();
  }

  /** Ends the session and revokes its lease, deleting every key it holds. */
  async close(): Promise<void> {
    this.orphan();
    await this.client.lease
      .revoke(this.lease, { timeout: this.ttl * 1000 })
      .catch((err: unknown) => {
        if (!(err instanceof EtcdError) || err.message !== ErrLeaseNotFound.message) throw err;
      });
  }
}

function hexLease(lease: bigint): string {
  return BigInt.asUintN(64, lease).toString(16);
}

/** The first (or last) key by create revision under a prefix: clientv3's withTop. */
function topOp(prefix: Bytes, order: 'ascend' | 'descend', maxCreateRevision?: number): Op {
  return op.get(prefix, {
    prefix: true,
    sort: { target: 'create', order },
    limit: 1,
    maxCreateRevision: maxCreateRevision ?? 0,
  });
}

/** Resolves once `key` is deleted at or after revision `rev`. */
async function waitDelete(
  client: Client,
  key: Uint8Array,
  rev: number,
  signal?: AbortSignal,
): Promise<void> {
  const watcher = client.watch(key, { startRevision: rev, signal });
  for await (const resp of watcher) {
    if (resp.events.some((e) => e.type === 1)) {
      watcher.cancel();
      return;
    }
  }
  if (signal?.aborted) throw new ErrCanceled();
  throw new Error('lost watcher waiting for delete');
}

/** Waits until no key under `prefix` has a create revision <= maxCreateRevision. */
async function waitDeletes(
  client: Client,
  prefix: Bytes,
  maxCreateRevision: number,
  signal?: AbortSignal,
): Promise<etcdserverpb.ResponseHeader> {
  for (;;) {
    const o = topOp(prefix, 'descend', maxCreateRevision) as Extract<Op, { type: 'range' }>;
    const resp = await client.range(o.request, { signal });
    const last = resp.kvs[0];
    if (last === undefined) return resp.header!;
    await waitDelete(client, last.key, resp.header!.revision, signal);
  }
}

/**
 * A distributed lock (clientv3's Mutex): waiters queue by create revision under the
 * prefix and each waits only for the one before it.
 */
export class Mutex {
  private readonly prefix: string;
  private myKey = '';
  private myRev = -1;
  private hdr: etcdserverpb.ResponseHeader | undefined;

  constructor(
    readonly session: Session,
    prefix: string,
  ) {
    this.prefix = `${prefix}/`;
  }

  private async enqueue(): Promise<{
    owner: mvccpb.KeyValue | undefined;
    resp: etcdserverpb.TxnResponse;
  }> {
    const s = this.session;
    this.myKey = `${this.prefix}${hexLease(s.lease)}`;
    const resp = await s.client
      .txn()
      .if(compare.createRevision(this.myKey, '=', 0))
      .then(op.put(this.myKey, '', { lease: s.lease }), topOp(this.prefix, 'ascend'))
      .else(op.get(this.myKey), topOp(this.prefix, 'ascend'))
      .commit();
    this.myRev = resp.header!.revision;
    if (!resp.succeeded) this.myRev = resp.responses[0]!.responseRange!.kvs[0]!.createRevision;
    return { owner: resp.responses[1]!.responseRange!.kvs[0], resp };
  }

  /** Takes the lock, waiting behind earlier waiters; `signal` abandons the wait. */
  async lock(signal?: AbortSignal): Promise<void> {
    const { owner, resp } = await this.enqueue();
    if (owner === undefined || owner.createRevision === this.myRev) {
      this.hdr = resp.header;
      return;
    }
    try {
      this.hdr = await waitDeletes(this.session.client, this.prefix, this.myRev - 1, signal);
    } catch (err) {
      await this.unlock().catch(() => undefined);
      throw err;
    }
  }

  /** Takes the lock only if nobody holds it; fails with ErrLocked otherwise. */
  async tryLock(): Promise<void> {
    const { owner, resp } = await this.enqueue();
    if (owner === undefined || owner.createRevision === this.myRev) {
      this.hdr = resp.header;
      return;
    }
    await this.unlock();
    throw new ErrLocked();
  }

  async unlock(): Promise<void> {
    await this.session.client.delete(this.myKey);
    this.myKey = '\0';
    this.myRev = -1;
  }

  /** A guard that holds while this mutex is held (for transactions made under it). */
  isOwner(): Compare {
    return compare.createRevision(this.myKey, '=', this.myRev);
  }

  /** The key this session holds (or waits on) under the prefix. */
  get key(): string {
    return this.myKey;
  }

  get header(): etcdserverpb.ResponseHeader | undefined {
    return this.hdr;
  }
}

/** A leader election (clientv3's Election) under a prefix. */
export class Election {
  private readonly prefix: string;
  private leaderKey = '';
  private leaderRev = 0;
  private leading = false;
  private hdr: etcdserverpb.ResponseHeader | undefined;

  constructor(
    readonly session: Session,
    prefix: string,
  ) {
    this.prefix = `${prefix}/`;
  }

  /** Runs for leader with `value`; resolves once elected. */
  async campaign(value: Bytes, signal?: AbortSignal): Promise<void> {
    const s = this.session;
    const key = `${this.prefix}${hexLease(s.lease)}`;
    const resp = await s.client
      .txn()
      .if(compare.createRevision(key, '=', 0))
      .then(op.put(key, value, { lease: s.lease }))
      .else(op.get(key))
      .commit();
    this.leaderKey = key;
    this.leaderRev = resp.header!.revision;
    this.leading = true;
    if (!resp.succeeded) {
      const kv = resp.responses[0]!.responseRange!.kvs[0]!;
      this.leaderRev = kv.createRevision;
      if (Buffer.compare(Buffer.from(kv.value), Buffer.from(toBytes(value))) !== 0) {
        try {
          await this.proclaim(value);
        } catch (err) {
          await this.resign().catch(() => undefined);
          throw err;
        }
      }
    }
    try {
      await waitDeletes(s.client, this.prefix, this.leaderRev - 1, signal);
    } catch (err) {
      if (signal?.aborted) await this.resign().catch(() => undefined);
      else this.leading = false;
      throw err;
    }
    this.hdr = resp.header;
  }

  /** Changes the leader's value without another election. */
  async proclaim(value: Bytes): Promise<void> {
    if (!this.leading) throw new ErrElectionNotLeader();
    const resp = await this.session.client
      .txn()
      .if(compare.createRevision(this.leaderKey, '=', this.leaderRev))
      .then(op.put(this.leaderKey, value, { lease: this.session.lease }))
      .commit();
    if (!resp.succeeded) {
      this.leaderKey = '';
      throw new ErrElectionNotLeader();
    }
    this.hdr = resp.header;
  }

  /** Gives up leadership (or the candidacy). */
  async resign(): Promise<void> {
    if (!this.leading) return;
    try {
      const resp = await this.session.client
        .txn()
        .if(compare.createRevision(this.leaderKey, '=', this.leaderRev))
        .then(op.delete(this.leaderKey))
        .commit();
      this.hdr = resp.header;
    } finally {
      this.leaderKey = '';
      this.leading = false;
    }
  }

  /** The current leader's key-value; ErrElectionNoLeader when there is none. */
  async leader(): Promise<etcdserverpb.RangeResponse> {
    const o = topOp(this.prefix, 'ascend') as Extract<Op, { type: 'range' }>;
    const resp = await this.session.client.range(o.request);
    if (resp.kvs.length === 0) throw new ErrElectionNoLeader();
    return resp;
  }

  /**
   * The leader's key-value each time it changes (a new leader, or a proclaimed value),
   * starting with the current one, until `signal` fires.
   */
  async *observe(
    signal?: AbortSignal,
  ): AsyncGenerator<{ header: etcdserverpb.ResponseHeader; kv: mvccpb.KeyValue }> {
    const client = this.session.client;
    while (!signal?.aborted) {
      const o = topOp(this.prefix, 'ascend') as Extract<Op, { type: 'range' }>;
      const resp = await client.range(o.request, { signal });
      let kv = resp.kvs[0];
      let header = resp.header!;
      if (kv === undefined) {
        // No leader yet: wait for the first put under the prefix.
        const w = client.watch(this.prefix, {
          prefix: true,
          startRevision: header.revision,
          signal,
        });
        for await (const wr of w) {
          const put = wr.events.find((e) => e.type === 0);
          if (put?.kv !== undefined) {
            kv = put.kv;
            header = { ...wr.header, revision: put.kv.modRevision };
            w.cancel();
          }
        }
        if (kv === undefined) return;
      }
      yield { header, kv };
      const w = client.watch(kv.key, { startRevision: header.revision + 1, signal });
      let deleted = false;
      for await (const wr of w) {
        for (const e of wr.events) {
          if (e.type === 1) {
            deleted = true;
            break;
          }
          yield { header: wr.header, kv: e.kv! };
        }
        if (deleted) {
          w.cancel();
          break;
        }
      }
      if (!deleted) return;
    }
  }

  /** This candidate's key (empty when not campaigning). */
  get key(): string {
    return this.leaderKey;
  }

  get rev(): number {
    return this.leaderRev;
  }

  get header(): etcdserverpb.ResponseHeader | undefined {
    return this.hdr;
  }
}

/** How an STM isolates its reads and checks them at commit (clientv3's levels). */
export type Isolation =
  | 'serializable-snapshot'
  | 'serializable'
  | 'repeatable-read'
  | 'read-committed';

/** What an STM transaction function sees: reads and writes against a private view. */
export interface STM {
  /** The value of the first of `keys` that has one ('' when none does). */
  get(...keys: string[]): string;
  put(key: string, value: string, options?: { lease?: bigint }): void;
  del(key: string): void;
  /** The mod revision of `key` (0 when absent). */
  rev(key: string): number;
}

/** Thrown inside an STM function to fetch keys it has not read yet (the run restarts). */
class NeedRead {
  constructor(readonly keys: string[]) {}
}

/**
 * Runs `apply` as a transaction with optimistic concurrency: reads are recorded, writes
 * buffered, and at commit the reads are checked against the store by revision; on a
 * conflict the function runs again with fresh reads (clientv3's NewSTM).
 */
export async function runSTM(
  client: Client,
  apply: (stm: STM) => void | Promise<void>,
  options: { isolation?: Isolation; prefetch?: string[]; signal?: AbortSignal } = {},
): Promise<etcdserverpb.TxnResponse> {
  const isolation = options.isolation ?? 'serializable-snapshot';
  const serializable = isolation === 'serializable' || isolation === 'serializable-snapshot';
  let reads = new Map<string, etcdserverpb.RangeResponse>();
  let pendingPrefetch = [...(options.prefetch ?? [])];
  // The revision the first read of a serializable run pinned; later reads use it.
  let readRevision = 0;
  for (;;) {
    if (options.signal?.aborted) throw new ErrCanceled();
    const writes = new Map<string, { value: string; op: Op }>();
    const fetch = async (keys: string[]) => {
      const missing = keys.filter((k) => !reads.has(k));
      if (missing.length === 0) return;
      const resp = await client
        .txn()
        .then(
          ...missing.map((k) =>
            // Serializable runs read everything at the revision of their first read.
            op.get(
              k,
              serializable
                ? readRevision > 0
                  ? { revision: readRevision, serializable: true }
                  : {}
                : { serializable: true },
            ),
          ),
        )
        .commit();
      for (const [i, k] of missing.entries()) reads.set(k, resp.responses[i]!.responseRange!);
      if (serializable && readRevision === 0) readRevision = resp.header!.revision;
    };
    if (pendingPrefetch.length > 0) {
      await fetch(pendingPrefetch);
      pendingPrefetch = [];
    }
    const stm: STM = {
      get(...keys) {
        for (const k of keys) {
          const w = writes.get(k);
          if (w !== undefined) return w.value;
        }
        const missing = keys.filter((k) => !reads.has(k));
        if (missing.length > 0) throw new NeedRead(missing);
        const first = reads.get(keys[0]!)!;
        return first.kvs[0] === undefined ? '' : toText(first.kvs[0].value);
      },
      put(key, value, opts = {}) {
        writes.set(key, { value, op: op.put(key, value, opts) });
      },
      del(key) {
        writes.set(key, { value: '', op: op.delete(key) });
      },
      rev(key) {
        if (!reads.has(key)) throw new NeedRead([key]);
        return reads.get(key)!.kvs[0]?.modRevision ?? 0;
      },
    };
    try {
      await apply(stm);
    } catch (err) {
      if (err instanceof NeedRead) {
        // Each restart reads at least one more key, so restarts are bounded.
        await fetch(err.keys);
        continue;
      }
      throw err;
    }
    const compares: Compare[] = [];
    if (isolation !== 'read-committed') {
      for (const [k, r] of reads)
        compares.push(compare.modRevision(k, '=', r.kvs[0]?.modRevision ?? 0));
    }
    if (isolation === 'serializable-snapshot') {
      let first = Number.MAX_SAFE_INTEGER;
      for (const r of reads.values()) first = Math.min(first, r.header?.revision ?? first);
      for (const k of writes.keys()) compares.push(compare.modRevision(k, '<', first + 1));
    }
    const readKeys = [...reads.keys()];
    const resp = await client
      .txn()
      .if(...compares)
      .then(...[...writes.values()].map((w) => w.op))
      .else(...(serializable ? readKeys.map((k) => op.get(k)) : []))
      .commit();
    if (resp.succeeded) return resp;
    // A conflict: run again on fresh reads (a serializable run reuses the ones the
    // failed commit returned, as clientv3's prefetch does).
    const fresh = new Map<string, etcdserverpb.RangeResponse>();
    if (serializable) {
      for (const [i, k] of readKeys.entries()) fresh.set(k, resp.responses[i]!.responseRange!);
    }
    reads = fresh;
    readRevision = 0;
  }
}

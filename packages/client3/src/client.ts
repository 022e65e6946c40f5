import { Auth } from './auth.js';
import { type Bytes, concatBytes, toBytes } from './bytes.js';
import { Cluster } from './cluster.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { KeyPrefix, KV } from './kv.js';
import { KeepAliveLoop, Lease } from './lease.js';
import { Maintenance } from './maintenance.js';
import { Watch, type Watcher, type WatchOptions, WatchStream } from './watch.js';

export type ClientOptions = ConnectionOptions;

/**
 * A view of the key space under a prefix (clientv3's namespace package): keys are given
 * and returned without the prefix, watches see only the prefix's keys. Leases are not
 * namespaced.
 */
export class Namespace extends KV {
  private readonly watcher: Watch;

  constructor(
    conn: Connection,
    keys: KeyPrefix,
    private readonly stream: WatchStream,
    /** The client's lease API (leases are not namespaced). */
    readonly lease: Lease,
  ) {
    super(conn, keys);
    this.watcher = new Watch(stream, keys);
  }

  /** The prefix every key of this view carries on the server. */
  get prefix(): Uint8Array {
    return this.keys.prefix;
  }

  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    return this.watcher.watch(key, options);
  }

  requestProgress(): void {
    this.watcher.requestProgress();
  }

  /** A view nested in this one. */
  namespace(prefix: Bytes): Namespace {
    return new Namespace(
      this.conn,
      new KeyPrefix(concatBytes(this.keys.prefix, toBytes(prefix))),
      this.stream,
      this.lease,
    );
  }
}

/**
 * An etcd v3 client: the KV API as its own methods (`get`, `put`, `delete`, `txn`,
 * `compact`), `watch`, and `lease`, `cluster`, `maintenance` and `auth`. `close()` stops
 * every stream and timer it started.
 */
export class Client extends Namespace {
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: Auth;

  constructor(options: ClientOptions) {
    const conn = new Connection(options);
    const stream = new WatchStream(conn);
    const lease = new Lease(conn, new KeepAliveLoop(conn, conn.dialTimeout + 1_000));
    super(conn, new KeyPrefix(new Uint8Array(0)), stream, lease);
    this.cluster = new Cluster(conn);
    this.maintenance = new Maintenance(conn);
    this.auth = new Auth(conn);
  }

  /** The endpoints as given. */
  get endpoints(): string[] {
    return this.conn.endpoints;
  }

  /**
   * Connects to some endpoint and logs in (with credentials) now rather than at the
   * first call; fails with the dial or authentication error.
   */
  connect(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    return this.conn.connect(options);
  }

  /** Closes every connection; open watchers end, keep-alives stop, calls fail. */
  close(): void {
    this.conn.close();
  }
}

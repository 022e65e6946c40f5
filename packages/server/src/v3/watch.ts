import type { etcdserverpb } from '@etcd-ts/api';
import type { WatchStream } from '@etcd-ts/mvcc';
import type { Clock } from '../clock.js';
import type { EtcdServer } from '../server.js';
import type { Caller } from './caller.js';

/**
 * The watch side of the v3 server (etcd's watchable KV behind v3rpc/watch.go): streams of
 * watchers on the mvcc store, the permission a watcher needs, and the limits a stream
 * works within.
 */
export class Watch {
  constructor(private readonly s: EtcdServer) {}

  newStream(): WatchStream {
    this.s.assertNotLearner();
    return this.s.kv.newWatchStream();
  }

  /** READ on the watched range (etcd's isWatchPermitted); throws the auth store's refusal. */
  async checkPermitted(caller: Caller, key: Uint8Array, rangeEnd: Uint8Array): Promise<void> {
    this.s.authStore.isRangePermitted(await caller.authInfo(), key, rangeEnd);
  }

  header(revision?: number): etcdserverpb.ResponseHeader {
    return this.s.header(revision);
  }

  /** A header with exactly `revision`, 0 included (etcd's newResponseHeader). */
  headerAt(revision: number): etcdserverpb.ResponseHeader {
    return { ...this.s.header(), revision };
  }

  /** The largest response a fragmenting watcher's events are split to fit. */
  get maxResponseBytes(): number {
    return this.s.cfg.maxRequestBytes;
  }

  get clock(): Clock {
    return this.s.clock;
  }

  /** How often watchers that asked for progress notifications get one. */
  get progressNotifyIntervalMs(): number {
    return this.s.cfg.watchProgressNotifyIntervalMs;
  }
}

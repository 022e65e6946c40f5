import type { SnapshotFormat } from '@etcd-ts/backend';
import type { EtcdServer } from '../server.js';
import { Auth } from './auth.js';
import { Cluster } from './cluster.js';
import { KV } from './kv.js';
import { Leases } from './lease.js';
import { Maintenance } from './maintenance.js';
import { Watch } from './watch.js';

/**
 * The member's v3 API as typed calls (etcd's v3_server.go): what the gRPC services
 * translate to and from, and what any other front end (the JSON gateway, tests) calls.
 * `caller` arguments say who sent the request (see Caller).
 */
export class V3Server {
  readonly kv: KV;
  readonly watch: Watch;
  readonly lease: Leases;
  readonly auth: Auth;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;

  constructor(
    readonly server: EtcdServer,
    opts: { snapshotFormat?: SnapshotFormat } = {},
  ) {
    this.kv = new KV(server);
    this.watch = new Watch(server);
    this.lease = new Leases(server);
    this.auth = new Auth(server);
    this.cluster = new Cluster(server);
    this.maintenance = new Maintenance(server, opts.snapshotFormat);
  }
}

import type { etcdserverpb } from '@etcd-ts/api';
import { LeaseNotFoundError } from '@etcd-ts/lease';
import { Errors } from '../errors.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';
import { checkQuota } from './quota.js';

/**
 * etcd's Lessor side of the v3 server: grant and revoke through raft (the server picks
 * the id when the client sends 0), keep-alives answered by the leader's lessor once it
 * has applied what was committed, time-to-live and the list from the local lessor.
 */
export class Leases {
  constructor(private readonly s: EtcdServer) {}

  async grant(req: etcdserverpb.LeaseGrantRequest): Promise<etcdserverpb.LeaseGrantResponse> {
    const r = { ...req, ID: req.ID === 0n ? this.s.nextLeaseId() : req.ID };
    await checkQuota(this.s, { leaseGrant: r });
    return this.s.filled(await this.s.raftRequest('leaseGrant', r));
  }

  async revoke(
    req: etcdserverpb.LeaseRevokeRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.LeaseRevokeResponse> {
    return this.s.filled(await this.s.raftRequest('leaseRevoke', req, await caller.authInfo()));
  }

  /** The leader, caught up with what it committed: what the lessor answers must be current. */
  private async leaderCaughtUp(): Promise<void> {
    if (!this.s.isLeader()) throw Errors.noLeader();
    await this.s.waitApplied(this.s.committed);
  }

  async timeToLive(
    req: etcdserverpb.LeaseTimeToLiveRequest,
  ): Promise<etcdserverpb.LeaseTimeToLiveResponse> {
    await this.leaderCaughtUp();
    try {
      const t = this.s.lessor.timeToLive(req.ID, req.keys);
      return { header: this.s.header(), ...t };
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      return { header: this.s.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    }
  }

  leases(): etcdserverpb.LeaseLeasesResponse {
    return { header: this.s.header(), leases: this.s.lessor.leases().map((l) => ({ ID: l.id })) };
  }

  /** One keep-alive (etcd's LeaseRenew): TTL 0 when the lease is gone. */
  async renew(id: bigint): Promise<etcdserverpb.LeaseKeepAliveResponse> {
    await this.leaderCaughtUp();
    let ttl: number;
    try {
      ttl = await this.s.lessor.renew(id);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      ttl = 0;
    }
    return { header: this.s.header(), ID: id, TTL: ttl };
  }
}

import { etcdserverpb, leasepb } from '@etcd-ts/api';
import { LeaseNotFoundError, NotPrimaryError } from '@etcd-ts/lease';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';
import { toLeader } from './forward.js';
import { checkQuota } from './quota.js';

/**
 * etcd's Lessor side of the v3 server: grant and revoke through raft (the server picks
 * the id when the client sends 0), keep-alives answered by the leader's lessor once it
 * has applied what was committed, time-to-live and the list from the local lessor.
 */
export class Leases {
  constructor(private readonly s: EtcdServer) {}

  async grant(req: etcdserverpb.LeaseGrantRequest): Promise<etcdserverpb.LeaseGrantResponse> {
    this.s.assertNotLearner();
    const r = { ...req, ID: req.ID === 0n ? this.s.nextLeaseId() : req.ID };
    await checkQuota(this.s, { leaseGrant: r });
    return this.s.filled(await this.s.raftRequest('leaseGrant', r));
  }

  async revoke(
    req: etcdserverpb.LeaseRevokeRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.LeaseRevokeResponse> {
    this.s.assertNotLearner();
    return this.s.filled(await this.s.raftRequest('leaseRevoke', req, await caller.authInfo()));
  }

  /** Waits until everything committed is applied: what the lessor answers must be current. */
  private async caughtUp(): Promise<void> {
    await this.s.waitApplied(this.s.committed);
  }

  /**
   * LeaseTimeToLive (etcd's): the leader's lessor answers; a follower asks the leader over
   * the peer listener (POST /leases/internal). An unknown lease has TTL -1.
   */
  async timeToLive(
    req: etcdserverpb.LeaseTimeToLiveRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.LeaseTimeToLiveResponse> {
    this.s.assertNotLearner();
    try {
      const t = this.s.isLeader()
        ? await this.timeToLiveOnLeader(req)
        : await this.timeToLiveFromLeader(req);
      // The keys are data: the caller must be allowed to read each (CVE-2023-32082, fixed
      // in etcd 3.4.26 and 3.5.9; a deliberate difference from 3.4.23).
      if (req.keys && this.s.authStore.isAuthEnabled()) {
        const ai = await caller.authInfo();
        for (const key of t.keys) this.s.authStore.isRangePermitted(ai, key);
      }
      return { ...t, header: this.s.header() };
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      return { header: this.s.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    }
  }

  /** The leader's answer to a time-to-live (also what it serves a follower that forwards). */
  async timeToLiveOnLeader(
    req: etcdserverpb.LeaseTimeToLiveRequest,
  ): Promise<etcdserverpb.LeaseTimeToLiveResponse> {
    await this.caughtUp();
    return { header: undefined, ...this.s.lessor.timeToLive(req.ID, req.keys) };
  }

  private async timeToLiveFromLeader(
    req: etcdserverpb.LeaseTimeToLiveRequest,
  ): Promise<etcdserverpb.LeaseTimeToLiveResponse> {
    const body = leasepb.LeaseInternalRequest.encode({ LeaseTimeToLiveRequest: req }).finish();
    const r = await toLeader(this.s, '/leases/internal', body);
    if (r.status === 404) throw new LeaseNotFoundError();
    if (r.status !== 200) throw forwardError(r.status, r.body);
    const resp = leasepb.LeaseInternalResponse.decode(r.body).LeaseTimeToLiveResponse;
    if (resp === undefined) throw forwardError(r.status, r.body);
    return resp;
  }

  leases(): etcdserverpb.LeaseLeasesResponse {
    this.s.assertNotLearner();
    return { header: this.s.header(), leases: this.s.lessor.leases().map((l) => ({ ID: l.id })) };
  }

  /**
   * One keep-alive (etcd's LeaseRenew): the leader's lessor renews; a follower forwards it
   * to the leader (POST /leases). TTL 0 when the lease is gone.
   */
  async renew(id: bigint): Promise<etcdserverpb.LeaseKeepAliveResponse> {
    this.s.assertNotLearner();
    let ttl: number;
    try {
      ttl = await this.renewAnywhere(id);
    } catch (err) {
      if (!(err instanceof LeaseNotFoundError)) throw err;
      ttl = 0;
    }
    return { header: this.s.header(), ID: id, TTL: ttl };
  }

  private async renewAnywhere(id: bigint): Promise<number> {
    if (this.s.isLeader()) {
      try {
        return await this.renewOnLeader(id);
      } catch (err) {
        // Leadership moved while renewing: the new leader is asked below.
        if (!(err instanceof NotPrimaryError)) throw err;
      }
    }
    const body = etcdserverpb.LeaseKeepAliveRequest.encode({ ID: id }).finish();
    const r = await toLeader(this.s, '/leases', body);
    if (r.status === 404) throw new LeaseNotFoundError();
    if (r.status !== 200) throw forwardError(r.status, r.body);
    return etcdserverpb.LeaseKeepAliveResponse.decode(r.body).TTL;
  }

  /** The leader's renewal (also what it serves a follower that forwards a keep-alive). */
  async renewOnLeader(id: bigint): Promise<number> {
    await this.caughtUp();
    return this.s.lessor.renew(id);
  }
}

/** A peer's refusal of a forwarded request, as the error the client gets. */
function forwardError(status: number, body: Buffer): Error {
  return new Error(`leader answered ${status}: ${body.toString('utf8').trim()}`);
}

import type { etcdserverpb } from '@etcd-ts/api';
import { LeaseNotFoundError, type Lessor } from '@etcd-ts/lease';
import { revisionHeader } from './kv.js';

/**
 * LeaseGrant/LeaseRevoke/LeaseCheckpoint as a committed entry applies them (etcd's
 * applierV3backend): deterministic on every member. Revoking deletes the lease's keys
 * through one mvcc write txn (the lessor's range deleter).
 */
export function applyLeaseGrant(
  lessor: Lessor,
  rev: number,
  r: etcdserverpb.LeaseGrantRequest,
): etcdserverpb.LeaseGrantResponse {
  const l = lessor.grant(r.ID, r.TTL);
  return { header: revisionHeader(rev), ID: l.id, TTL: l.ttl, error: '' };
}

export function applyLeaseRevoke(
  lessor: Lessor,
  rev: () => number,
  r: etcdserverpb.LeaseRevokeRequest,
): etcdserverpb.LeaseRevokeResponse {
  lessor.revoke(r.ID);
  // The revision after the lease's keys went.
  return { header: revisionHeader(rev()) };
}

export function applyLeaseCheckpoint(
  lessor: Lessor,
  rev: number,
  r: etcdserverpb.LeaseCheckpointRequest,
): etcdserverpb.LeaseCheckpointResponse {
  for (const cp of r.checkpoints) {
    try {
      lessor.checkpoint(cp.ID, cp.remainingTTL);
    } catch (err) {
      // A checkpoint of a lease revoked meanwhile is dropped, as etcd does.
      if (!(err instanceof LeaseNotFoundError)) throw err;
    }
  }
  return { header: revisionHeader(rev) };
}

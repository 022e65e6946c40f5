import type { etcdserverpb } from '@etcd-ts/api';
import { LeaseNotFoundError, type Lessor } from '@etcd-ts/lease';
import { header, type KVStore } from '@etcd-ts/mvcc';
import type { LeaseApplier } from './apply.js';

/**
 * The lessor as the apply layer sees it (etcd's applierV3 LeaseGrant/LeaseRevoke/
 * LeaseCheckpoint): runs while a committed entry is applied, so every member does the
 * same thing. Revoking deletes the lease's keys through one mvcc write txn.
 */
export function leaseApplier(lessor: Lessor, kv: KVStore): LeaseApplier {
  return {
    grant(r) {
      const l = lessor.grant(r.ID, r.TTL);
      return { header: header(kv.rev()), ID: l.id, TTL: l.ttl, error: '' };
    },
    revoke(r) {
      lessor.revoke(r.ID);
      return { header: header(kv.rev()) };
    },
    checkpoint(r) {
      for (const cp of r.checkpoints) {
        try {
          lessor.checkpoint(cp.ID, cp.remainingTTL);
        } catch (err) {
          // A checkpoint of a lease revoked meanwhile is dropped, as etcd does.
          if (!(err instanceof LeaseNotFoundError)) throw err;
        }
      }
      return { header: header(kv.rev()) };
    },
  };
}

export type { etcdserverpb };

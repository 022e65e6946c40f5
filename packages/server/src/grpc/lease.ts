import type { etcdserverpb } from '@etcd-ts/api';
import { LeaseNotFoundError } from '@etcd-ts/lease';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { CallIdentity } from '../auth.js';
import { Errors, toGrpcError } from '../errors.js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

/**
 * etcd's Lease service: grant and revoke through raft (the server picks the id when the
 * client sends 0), keep-alives answered by the leader's lessor after it has applied what
 * was committed, time-to-live and the lease list from the local lessor.
 */
export function leaseService(
  s: EtcdServer,
  userOf?: (call: CallIdentity) => Promise<{ username: string; authRevision: number } | undefined>,
): etcdserverpb.LeaseServer {
  return {
    leaseGrant: unary(async (req) => {
      const r = { ...req, ID: req.ID === 0n ? s.nextLeaseId() : req.ID };
      await s.checkQuota({ leaseGrant: r });
      const resp = (await s.raftRequest({ leaseGrant: r })) as etcdserverpb.LeaseGrantResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    leaseRevoke: unary(async (req, call) => {
      const user = await userOf?.(call);
      const resp = (await s.raftRequest({
        leaseRevoke: req,
        header: user && { ID: 0n, ...user },
      })) as etcdserverpb.LeaseRevokeResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    leaseTimeToLive: unary(async (req) => {
      if (!s.isLeader()) throw Errors.noLeader();
      await s.waitApplied(s.committed);
      try {
        const t = s.lessor.timeToLive(req.ID, req.keys);
        return { header: s.header(), ID: t.ID, TTL: t.TTL, grantedTTL: t.grantedTTL, keys: t.keys };
      } catch (err) {
        if (err instanceof LeaseNotFoundError)
          return { header: s.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
        throw err;
      }
    }),
    leaseLeases: unary(() => ({
      header: s.header(),
      leases: s.lessor.leases().map((l) => ({ ID: l.id })),
    })),
    leaseKeepAlive: (
      call: ServerDuplexStream<
        etcdserverpb.LeaseKeepAliveRequest,
        etcdserverpb.LeaseKeepAliveResponse
      >,
    ) => {
      let chain: Promise<void> = Promise.resolve();
      let closed = false;
      const close = () => {
        closed = true;
      };
      call.on('end', () => {
        close();
        call.end();
      });
      call.on('error', close);
      call.on('cancelled', close);
      call.on('data', (req: etcdserverpb.LeaseKeepAliveRequest) => {
        chain = chain.then(async () => {
          if (closed) return;
          let ttl: number;
          try {
            if (!s.isLeader()) throw Errors.noLeader();
            await s.waitApplied(s.committed);
            ttl = await s.lessor.renew(req.ID);
          } catch (err) {
            if (err instanceof LeaseNotFoundError) ttl = 0;
            else {
              closed = true;
              call.destroy(Object.assign(new Error((err as Error).message), toGrpcError(err)));
              return;
            }
          }
          if (!closed) call.write({ header: s.header(), ID: req.ID, TTL: ttl });
        });
      });
    },
  };
}

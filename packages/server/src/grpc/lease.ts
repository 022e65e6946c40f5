import type { etcdserverpb } from '@etcd-ts/api';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Leases } from '../v3/lease.js';
import type { CallerOf } from './caller.js';
import { serviceError, unary } from './util.js';

type KeepAliveStream = ServerDuplexStream<
  etcdserverpb.LeaseKeepAliveRequest,
  etcdserverpb.LeaseKeepAliveResponse
>;

/**
 * etcd's Lease service: each unary call to its typed method in v3/lease.ts; a keep-alive
 * stream renews one request at a time, in order, and ends on the first error.
 */
export function leaseService(lease: Leases, callerOf: CallerOf): etcdserverpb.LeaseServer {
  return {
    leaseGrant: unary((req) => lease.grant(req)),
    leaseRevoke: unary((req, call) => lease.revoke(req, callerOf(call))),
    leaseTimeToLive: unary((req, call) => lease.timeToLive(req, callerOf(call))),
    leaseLeases: unary(() => lease.leases()),
    leaseKeepAlive: (call: KeepAliveStream) => {
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
          try {
            const resp = await lease.renew(req.ID);
            if (!closed) call.write(resp);
          } catch (err) {
            closed = true;
            call.destroy(serviceError(err));
          }
        });
      });
    },
  };
}

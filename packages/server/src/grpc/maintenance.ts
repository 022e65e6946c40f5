import type { etcdserverpb } from '@etcd-ts/api';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Maintenance } from '../v3/maintenance.js';
import type { CallerOf } from './caller.js';
import { serviceError, unary } from './util.js';

/**
 * etcd's Maintenance service: each call to its typed method in v3/maintenance.ts; the
 * snapshot's responses are written as the client reads them (waiting on drain), and a
 * cancelled call stops the stream and removes its file.
 */
export function maintenanceService(
  m: Maintenance,
  callerOf: CallerOf,
): etcdserverpb.MaintenanceServer {
  return {
    alarm: unary((req, call) => m.alarm(req, callerOf(call))),
    status: unary(() => m.status()),
    defragment: unary((_req, call) => m.defragment(callerOf(call))),
    hash: unary((_req, call) => m.hash(callerOf(call))),
    hashKv: unary((req, call) => m.hashKV(req, callerOf(call))),
    moveLeader: unary((req, call) => m.moveLeader(req, callerOf(call))),
    downgrade: unary((req, call) => m.downgrade(req, callerOf(call))),
    snapshot: (
      call: ServerWritableStream<etcdserverpb.SnapshotRequest, etcdserverpb.SnapshotResponse>,
    ) => {
      void (async () => {
        try {
          for await (const resp of m.snapshot(callerOf(call))) {
            if (call.cancelled) return;
            if (!call.write(resp)) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        } catch (err) {
          call.destroy(serviceError(err));
        }
      })();
    },
  };
}

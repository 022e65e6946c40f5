import { healthpb } from '@etcd-ts/api';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

const ServingStatus = healthpb.HealthCheckResponse_ServingStatus;

/** The standard grpc.health.v1 service: SERVING while the member runs. */
export function healthService(s: EtcdServer): healthpb.HealthServer {
  const current = () => (s.isStopped ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
  return {
    check: unary(() => ({ status: current() })),
    watch: (
      call: ServerWritableStream<healthpb.HealthCheckRequest, healthpb.HealthCheckResponse>,
    ) => {
      call.write({ status: current() });
    },
  };
}

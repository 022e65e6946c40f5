import type { handleUnaryCall, ServerUnaryCall, ServiceError, sendUnaryData } from '@grpc/grpc-js';
import { toGrpcError } from '../errors.js';

/** A unary handler from an async function; any error goes out as etcd's gRPC error. */
export function unary<Req, Res>(
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let p: Promise<Res>;
    try {
      p = Promise.resolve(fn(call.request, call));
    } catch (err) {
      callback(toGrpcError(err) as ServiceError, null);
      return;
    }
    p.then(
      (res) => callback(null, res),
      (err) => callback(toGrpcError(err) as ServiceError, null),
    );
  };
}

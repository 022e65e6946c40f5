import {
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { toGrpcError } from '../errors.js';

/** `err` as the ServiceError grpc-js sends (etcd's status code and message). */
export function serviceError(err: unknown): ServiceError {
  const e = toGrpcError(err);
  return Object.assign(new Error(e.message), {
    code: e.code,
    details: e.details,
    metadata: new Metadata(),
  });
}

/** A unary handler from an async function; any error goes out as etcd's gRPC error. */
export function unary<Req, Res>(
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let p: Promise<Res>;
    try {
      p = Promise.resolve(fn(call.request, call));
    } catch (err) {
      callback(serviceError(err), null);
      return;
    }
    p.then(
      (res) => callback(null, res),
      (err) => callback(serviceError(err), null),
    );
  };
}

import { type CallOptions, Metadata, type ServiceError } from '@grpc/grpc-js';

/**
 * Calls a unary grpc-js client method and resolves with its response. The parameter
 * mirrors the generated clients' last overload, (request, metadata, options, callback),
 * which is the one TypeScript infers from when a method is passed as a value.
 */
export function unary<Req, Res>(
  call: (
    req: Req,
    metadata: Metadata,
    options: Partial<CallOptions>,
    cb: (err: ServiceError | null, res: Res) => void,
  ) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(req, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

import { type CallOptions, Metadata, type ServiceError } from '@grpc/grpc-js';

/**
 * A unary method of a generated grpc-js client, in its (request, metadata, options,
 * callback) overload: the one TypeScript infers from when the method is passed as a value.
 */
export type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * Calls `client.method` (passed as `fn` and `client`) and resolves with the response.
 * `auth` is the call's metadata, or an auth token to send as etcd's `token` header.
 */
export function call<Req, Res>(
  fn: UnaryMethod<Req, Res>,
  client: object | undefined,
  req: Req,
  auth?: Metadata | string,
): Promise<Res> {
  const md = auth instanceof Metadata ? auth : new Metadata();
  if (typeof auth === 'string') md.set('token', auth);
  return new Promise((resolve, reject) => {
    fn.call(client, req, md, {}, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Like {@link call}, for a method already bound to its client. */
export function unary<Req, Res>(
  fn: UnaryMethod<Req, Res>,
  req: Req,
  auth?: Metadata | string,
): Promise<Res> {
  return call(fn, undefined, req, auth);
}

/** The gRPC error `p` rejects with; throws when it resolves instead. */
export async function errorOf(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

import type { AuthInfo } from '@etcd-ts/auth';

/**
 * Who sent a request (what etcd carries in a request's context): resolved when a typed
 * call needs it, after the request's own checks, so a malformed request gets its own
 * error first, as in etcd. The gRPC layer resolves the token or client certificate.
 */
export interface Caller {
  authInfo(): Promise<AuthInfo | undefined>;
}

/** A caller with no token or certificate (what a request without either is). */
export const anonymous: Caller = { authInfo: async () => undefined };

/** A caller already known as `ai` (the server itself, tests). */
export function callerAs(ai: AuthInfo | undefined): Caller {
  return { authInfo: async () => ai };
}

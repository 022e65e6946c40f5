import type { AuthStore } from '@etcd-ts/auth';
import type { Metadata } from '@grpc/grpc-js';
import type { Clock } from '../clock.js';
import { Errors } from '../errors.js';
import type { Caller } from '../v3/caller.js';

/** How long a request waits for the raft index its simple token names (etcd's request timeout). */
export const AUTH_TOKEN_WAIT_MS = 7000;

/** What a gRPC call offers to identify its user: metadata, and a TLS peer certificate. */
export interface CallIdentity {
  metadata: Metadata;
  getAuthContext?: () => { sslPeerCertificate?: { subject?: { CN?: string | string[] } } };
}

/**
 * The caller behind a gRPC call (etcd's AuthInfoFromCtx): the token in the `token`
 * metadata key (etcd 3.5 also reads `authorization`), else the common name of a verified
 * client certificate; no user while auth is disabled.
 */
export function callerOf(
  store: AuthStore,
  clock: Clock,
  call: CallIdentity,
  timeoutMs = AUTH_TOKEN_WAIT_MS,
): Caller {
  return {
    async authInfo() {
      if (!store.isAuthEnabled()) return undefined;
      const token = call.metadata.get('token')[0] ?? call.metadata.get('authorization')[0];
      if (token === undefined) {
        const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
        // A certificate with several common names: Go's x509 keeps the last one.
        return store.authInfoFromTLS(Array.isArray(cn) ? cn.at(-1) : cn);
      }
      // A simple token names the raft index that issued it; a member that has not applied
      // that far yet waits, but not forever (a forged index would hold the call open).
      const ac = new AbortController();
      const timer = clock.after(timeoutMs, () => ac.abort());
      try {
        return await store.authInfoFromToken(String(token), ac.signal);
      } catch (err) {
        // Not applied that far in time: the token cannot be checked, so it is not valid.
        if (ac.signal.aborted) throw Errors.invalidAuthToken();
        throw err;
      } finally {
        timer.cancel();
      }
    },
  };
}

/** Turns a call into its Caller (bound to the member's auth store and clock). */
export type CallerOf = (call: CallIdentity) => Caller;

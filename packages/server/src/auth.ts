import type { etcdserverpb } from '@etcd-ts/api';
import { type AuthInfo, type AuthStore, ROOT_USER } from '@etcd-ts/auth';
import type { Lessor } from '@etcd-ts/lease';
import type { Metadata } from '@grpc/grpc-js';
import type { AuthApplier } from './apply.js';
import { Errors } from './errors.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/** How long a request waits for the raft index its simple token names (etcd's request timeout). */
export const AUTH_TOKEN_WAIT_MS = 7000;

/** What a gRPC call offers to identify its user: metadata, and a TLS peer certificate. */
export interface CallIdentity {
  metadata: Metadata;
  getAuthContext?: () => { sslPeerCertificate?: { subject?: { CN?: string | string[] } } };
}

/**
 * The user behind a call (etcd's AuthInfoFromCtx): the token in the `token` metadata key
 * (etcd 3.5 also reads `authorization`), else the common name of a verified client
 * certificate; undefined while auth is disabled.
 */
export async function authInfoFromCall(
  store: AuthStore,
  call: CallIdentity,
  timeoutMs = AUTH_TOKEN_WAIT_MS,
): Promise<AuthInfo | undefined> {
  if (!store.isAuthEnabled()) return undefined;
  const token = call.metadata.get('token')[0] ?? call.metadata.get('authorization')[0];
  // A simple token names the raft index that issued it; a member that has not applied
  // that far yet waits, but not forever (a forged index would hold the call open).
  if (token !== undefined) {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return await store.authInfoFromToken(String(token), signal);
    } catch (err) {
      // Not applied that far in time: the token cannot be checked, so it is not valid.
      if (signal.aborted) throw Errors.invalidAuthToken();
      throw err;
    }
  }
  const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
  return store.authInfoFromTLS(Array.isArray(cn) ? cn[0] : cn);
}

function infoOf(r: InternalRaftRequest): AuthInfo | undefined {
  const h = r.header;
  if (h === undefined || h.username === '') return undefined;
  return { username: h.username, revision: h.authRevision };
}

function checkTxn(store: AuthStore, ai: AuthInfo | undefined, t: etcdserverpb.TxnRequest): void {
  for (const c of t.compare) store.isRangePermitted(ai, c.key, c.rangeEnd);
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestRange !== undefined)
      store.isRangePermitted(ai, op.requestRange.key, op.requestRange.rangeEnd);
    if (op.requestPut !== undefined) {
      store.isPutPermitted(ai, op.requestPut.key);
      if (op.requestPut.prevKv) store.isRangePermitted(ai, op.requestPut.key);
    }
    if (op.requestDeleteRange !== undefined) {
      const d = op.requestDeleteRange;
      store.isDeleteRangePermitted(ai, d.key, d.rangeEnd);
      if (d.prevKv) store.isRangePermitted(ai, d.key, d.rangeEnd);
    }
    if (op.requestTxn !== undefined) checkTxn(store, ai, op.requestTxn);
  }
}

/**
 * The auth store at the apply layer (etcd's authApplierV3 + applierV3backend's Auth*):
 * permissions are checked as each entry is applied, with the user and auth revision the
 * proposing member put in the request header, so a permission revoked meanwhile counts.
 */
export function authApplier(store: AuthStore, lessor: Lessor | undefined): AuthApplier {
  return {
    checkPermission(r) {
      if (!store.isAuthEnabled()) return;
      const ai = infoOf(r);
      if (r.put !== undefined) {
        store.isPutPermitted(ai, r.put.key);
        if (r.put.prevKv) store.isRangePermitted(ai, r.put.key);
      } else if (r.deleteRange !== undefined) {
        store.isDeleteRangePermitted(ai, r.deleteRange.key, r.deleteRange.rangeEnd);
        if (r.deleteRange.prevKv)
          store.isRangePermitted(ai, r.deleteRange.key, r.deleteRange.rangeEnd);
      } else if (r.txn !== undefined) {
        checkTxn(store, ai, r.txn);
      } else if (r.range !== undefined) {
        store.isRangePermitted(ai, r.range.key, r.range.rangeEnd);
      } else if (r.leaseRevoke !== undefined) {
        // Revoking deletes the lease's keys: the user must be allowed to write each.
        for (const key of lessor?.lookup(r.leaseRevoke.ID)?.keys() ?? [])
          store.isPutPermitted(ai, key);
      } else if (r.authUserGet !== undefined) {
        if (ai?.username !== r.authUserGet.name) store.isAdminPermitted(ai);
      } else if (r.authRoleGet !== undefined) {
        if (ai === undefined || !store.hasRole(ai.username, r.authRoleGet.role))
          store.isAdminPermitted(ai);
      } else if (
        r.authEnable !== undefined ||
        r.authDisable !== undefined ||
        r.authStatus !== undefined ||
        r.authUserAdd !== undefined ||
        r.authUserDelete !== undefined ||
        r.authUserChangePassword !== undefined ||
        r.authUserGrantRole !== undefined ||
        r.authUserRevokeRole !== undefined ||
        r.authUserList !== undefined ||
        r.authRoleAdd !== undefined ||
        r.authRoleDelete !== undefined ||
        r.authRoleGrantPermission !== undefined ||
        r.authRoleRevokePermission !== undefined ||
        r.authRoleList !== undefined
      ) {
        store.isAdminPermitted(ai);
      }
    },
    apply(r, index) {
      if (r.authEnable !== undefined) return store.authEnable();
      if (r.authDisable !== undefined) return store.authDisable();
      if (r.authStatus !== undefined) return store.authStatus();
      if (r.authenticate !== undefined) return store.applyAuthenticate(r.authenticate, index);
      if (r.authUserAdd !== undefined) return store.userAdd(r.authUserAdd);
      if (r.authUserDelete !== undefined) return store.userDelete(r.authUserDelete);
      if (r.authUserChangePassword !== undefined)
        return store.userChangePassword(r.authUserChangePassword);
      if (r.authUserGrantRole !== undefined) return store.userGrantRole(r.authUserGrantRole);
      if (r.authUserRevokeRole !== undefined) return store.userRevokeRole(r.authUserRevokeRole);
      if (r.authUserGet !== undefined) return store.userGet(r.authUserGet);
      if (r.authUserList !== undefined) return store.userList(r.authUserList);
      if (r.authRoleAdd !== undefined) return store.roleAdd(r.authRoleAdd);
      if (r.authRoleDelete !== undefined) return store.roleDelete(r.authRoleDelete);
      if (r.authRoleGet !== undefined) return store.roleGet(r.authRoleGet);
      if (r.authRoleList !== undefined) return store.roleList(r.authRoleList);
      if (r.authRoleGrantPermission !== undefined)
        return store.roleGrantPermission(r.authRoleGrantPermission);
      if (r.authRoleRevokePermission !== undefined)
        return store.roleRevokePermission(r.authRoleRevokePermission);
      return undefined;
    },
  };
}

/** The header a request the server makes on its own behalf carries (etcd's WithRoot). */
export function rootHeader(store: AuthStore): { username: string; authRevision: number } {
  return { username: ROOT_USER, authRevision: store.revision };
}

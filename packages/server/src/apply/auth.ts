import type { etcdserverpb } from '@etcd-ts/api';
import { type AuthInfo, type AuthStore, ROOT_USER } from '@etcd-ts/auth';
import type { Lessor } from '@etcd-ts/lease';
import { txnCompares, txnOps } from './txn.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/** The user a request was proposed for, from its header; undefined when none. */
export function authInfoOf(r: Pick<InternalRaftRequest, 'header'>): AuthInfo | undefined {
  const h = r.header;
  if (h === undefined || h.username === '') return undefined;
  return { username: h.username, revision: h.authRevision };
}

/** The header a request the server makes on its own behalf carries (etcd's WithRoot). */
export function rootHeader(store: AuthStore): { username: string; authRevision: number } {
  return { username: ROOT_USER, authRevision: store.revision };
}

/** Auth requests that only root may run (etcd's authApplierV3 + isAdminPermitted). */
const ADMIN_ONLY = [
  'authEnable',
  'authDisable',
  'authStatus',
  'authUserAdd',
  'authUserDelete',
  'authUserChangePassword',
  'authUserGrantRole',
  'authUserRevokeRole',
  'authUserList',
  'authRoleAdd',
  'authRoleDelete',
  'authRoleGrantPermission',
  'authRoleRevokePermission',
  'authRoleList',
] as const satisfies ReadonlyArray<keyof InternalRaftRequest>;

/** Range: READ on the range. */
function checkRange(store: AuthStore, ai: AuthInfo | undefined, r: etcdserverpb.RangeRequest) {
  store.isRangePermitted(ai, r.key, r.rangeEnd);
}

/**
 * Put: WRITE on the key; with a lease, WRITE on every key already attached to it too
 * (etcd's checkLeasePuts: the new key would make them share its fate); READ too when it
 * returns the previous key-value.
 */
function checkPut(
  store: AuthStore,
  lessor: Lessor,
  ai: AuthInfo | undefined,
  p: etcdserverpb.PutRequest,
) {
  store.isPutPermitted(ai, p.key);
  if (p.lease !== 0n) store.isLeaseKeysPermitted(ai, lessor.lookup(p.lease)?.keys() ?? []);
  if (p.prevKv) store.isRangePermitted(ai, p.key);
}

/** DeleteRange: WRITE on the range, and READ too when it returns what it deleted. */
function checkDelete(
  store: AuthStore,
  ai: AuthInfo | undefined,
  d: etcdserverpb.DeleteRangeRequest,
) {
  if (d.prevKv) store.isRangePermitted(ai, d.key, d.rangeEnd);
  store.isDeleteRangePermitted(ai, d.key, d.rangeEnd);
}

/**
 * A Txn (etcd's checkTxnAuth): READ on every compared range, and every operation of both
 * branches as if sent alone. Nested txns are checked the same way, all the way down (etcd
 * 3.5 does not look inside them; refusing what a user could not do alone is the safe
 * side); their depth is bounded by --max-txn-ops, checked before a txn is proposed.
 * Throws the first refusal.
 */
export function checkTxnPermission(
  store: AuthStore,
  lessor: Lessor,
  ai: AuthInfo | undefined,
  t: etcdserverpb.TxnRequest,
): void {
  if (!store.isAuthEnabled()) return;
  for (const c of txnCompares(t)) store.isRangePermitted(ai, c.key, c.rangeEnd);
  for (const op of txnOps(t)) {
    if (op.requestRange !== undefined) checkRange(store, ai, op.requestRange);
    else if (op.requestPut !== undefined) checkPut(store, lessor, ai, op.requestPut);
    else if (op.requestDeleteRange !== undefined) checkDelete(store, ai, op.requestDeleteRange);
  }
}

/**
 * Whether the request's user may run it (etcd's authApplierV3), checked as the entry is
 * applied with the user and auth revision the proposing member put in its header, so a
 * permission revoked meanwhile counts. Throws the auth store's refusal.
 */
export function checkApplyPermission(
  store: AuthStore,
  lessor: Lessor,
  r: InternalRaftRequest,
): void {
  if (!store.isAuthEnabled()) return;
  const ai = authInfoOf(r);
  if (r.put !== undefined) checkPut(store, lessor, ai, r.put);
  else if (r.deleteRange !== undefined) checkDelete(store, ai, r.deleteRange);
  else if (r.txn !== undefined) checkTxnPermission(store, lessor, ai, r.txn);
  else if (r.range !== undefined) checkRange(store, ai, r.range);
  else if (r.leaseRevoke !== undefined) {
    // Revoking deletes the lease's keys: the user must be allowed to write each.
    store.isLeaseKeysPermitted(ai, lessor.lookup(r.leaseRevoke.ID)?.keys() ?? []);
  } else if (r.authUserGet !== undefined) {
    store.isUserGetPermitted(ai, r.authUserGet.name);
  } else if (r.authRoleGet !== undefined) {
    store.isRoleGetPermitted(ai, r.authRoleGet.role);
  } else if (ADMIN_ONLY.some((k) => r[k] !== undefined)) {
    store.isAdminPermitted(ai);
  }
}

/** The auth requests of InternalRaftRequest, applied to the auth store at raft `index`. */
export type AuthResponse =
  | etcdserverpb.AuthEnableResponse
  | etcdserverpb.AuthDisableResponse
  | etcdserverpb.AuthStatusResponse
  | Promise<etcdserverpb.AuthenticateResponse>
  | etcdserverpb.AuthUserAddResponse
  | etcdserverpb.AuthUserDeleteResponse
  | etcdserverpb.AuthUserChangePasswordResponse
  | etcdserverpb.AuthUserGrantRoleResponse
  | etcdserverpb.AuthUserRevokeRoleResponse
  | etcdserverpb.AuthUserGetResponse
  | etcdserverpb.AuthUserListResponse
  | etcdserverpb.AuthRoleAddResponse
  | etcdserverpb.AuthRoleDeleteResponse
  | etcdserverpb.AuthRoleGetResponse
  | etcdserverpb.AuthRoleListResponse
  | etcdserverpb.AuthRoleGrantPermissionResponse
  | etcdserverpb.AuthRoleRevokePermissionResponse;

/**
 * Applies the one auth field of `r` that is set (etcd's applierV3backend Auth*); undefined
 * when `r` is not an auth request. Authenticate's token is issued asynchronously (JWT
 * signing), so its response is a promise.
 */
export function applyAuth(
  store: AuthStore,
  r: InternalRaftRequest,
  index: number,
): AuthResponse | undefined {
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
}

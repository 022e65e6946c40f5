import type { etcdserverpb } from '@etcd-ts/api';
import type { Auth } from '../v3/auth.js';
import type { CallerOf } from './caller.js';
import { unary } from './util.js';

/** etcd's Auth service: each call to its typed method in v3/auth.ts. */
export function authService(auth: Auth, callerOf: CallerOf): etcdserverpb.AuthServer {
  return {
    authEnable: unary((req, call) => auth.request('authEnable', req, callerOf(call))),
    authDisable: unary((req, call) => auth.request('authDisable', req, callerOf(call))),
    authStatus: unary((req, call) => auth.request('authStatus', req, callerOf(call))),
    authenticate: unary((req) => auth.authenticate(req)),
    userAdd: unary((req, call) => auth.userAdd(req, callerOf(call))),
    userGet: unary((req, call) => auth.request('authUserGet', req, callerOf(call))),
    userList: unary((req, call) => auth.request('authUserList', req, callerOf(call))),
    userDelete: unary((req, call) => auth.request('authUserDelete', req, callerOf(call))),
    userChangePassword: unary((req, call) => auth.userChangePassword(req, callerOf(call))),
    userGrantRole: unary((req, call) => auth.request('authUserGrantRole', req, callerOf(call))),
    userRevokeRole: unary((req, call) => auth.request('authUserRevokeRole', req, callerOf(call))),
    roleAdd: unary((req, call) => auth.request('authRoleAdd', req, callerOf(call))),
    roleGet: unary((req, call) => auth.request('authRoleGet', req, callerOf(call))),
    roleList: unary((req, call) => auth.request('authRoleList', req, callerOf(call))),
    roleDelete: unary((req, call) => auth.request('authRoleDelete', req, callerOf(call))),
    roleGrantPermission: unary((req, call) =>
      auth.request('authRoleGrantPermission', req, callerOf(call)),
    ),
    roleRevokePermission: unary((req, call) =>
      auth.request('authRoleRevokePermission', req, callerOf(call)),
    ),
  };
}

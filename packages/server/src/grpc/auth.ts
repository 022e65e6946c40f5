import type { etcdserverpb } from '@etcd-ts/api';
import type { ServerUnaryCall } from '@grpc/grpc-js';
import { authInfoFromCall } from '../auth.js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/**
 * etcd's Auth service: every call goes through raft with the caller's user and auth
 * revision in the header (the applier checks admin rights as it applies); passwords are
 * hashed with bcrypt here, before proposing, so no clear password reaches the WAL.
 */
export function authService(s: EtcdServer): etcdserverpb.AuthServer {
  const store = s.authStore;
  const propose = async <Res extends { header?: etcdserverpb.ResponseHeader | undefined }>(
    call: ServerUnaryCall<unknown, unknown>,
    req: Partial<InternalRaftRequest>,
  ): Promise<Res> => {
    const ai = await authInfoFromCall(store, call);
    const header =
      ai === undefined ? undefined : { ID: 0n, username: ai.username, authRevision: ai.revision };
    const resp = (await s.raftRequest({ ...req, header })) as Res;
    return { ...resp, header: s.header() };
  };
  const hashIfNeeded = async <T extends { password: string; hashedPassword: string }>(
    r: T,
    noPassword: boolean,
  ): Promise<T> => {
    if (noPassword || r.password === '' || r.hashedPassword !== '') return r;
    return { ...r, password: '', hashedPassword: await store.hashPassword(r.password) };
  };
  return {
    authEnable: unary((req, call) => propose(call, { authEnable: req })),
    authDisable: unary((req, call) => propose(call, { authDisable: req })),
    authStatus: unary((req, call) => propose(call, { authStatus: req })),
    authenticate: unary((req) => s.authenticate(req.name, req.password)),
    userAdd: unary(async (req, call) =>
      propose(call, { authUserAdd: await hashIfNeeded(req, req.options?.noPassword === true) }),
    ),
    userGet: unary((req, call) => propose(call, { authUserGet: req })),
    userList: unary((req, call) => propose(call, { authUserList: req })),
    userDelete: unary((req, call) => propose(call, { authUserDelete: req })),
    userChangePassword: unary(async (req, call) =>
      propose(call, { authUserChangePassword: await hashIfNeeded(req, false) }),
    ),
    userGrantRole: unary((req, call) => propose(call, { authUserGrantRole: req })),
    userRevokeRole: unary((req, call) => propose(call, { authUserRevokeRole: req })),
    roleAdd: unary((req, call) => propose(call, { authRoleAdd: req })),
    roleGet: unary((req, call) => propose(call, { authRoleGet: req })),
    roleList: unary((req, call) => propose(call, { authRoleList: req })),
    roleDelete: unary((req, call) => propose(call, { authRoleDelete: req })),
    roleGrantPermission: unary((req, call) => propose(call, { authRoleGrantPermission: req })),
    roleRevokePermission: unary((req, call) => propose(call, { authRoleRevokePermission: req })),
  };
}

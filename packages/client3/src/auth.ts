import { authpb, etcdserverpb } from '@etcd-ts/api';
import { type Bytes, toBytes } from './bytes.js';
import type { CallOptions, Connection } from './connection.js';

export type PermissionType = 'read' | 'write' | 'readwrite';

const PERMISSION_TYPES: Record<PermissionType, authpb.Permission_Type> = {
  read: authpb.Permission_Type.READ,
  write: authpb.Permission_Type.WRITE,
  readwrite: authpb.Permission_Type.READWRITE,
};

/** Users, roles and permissions (clientv3's Auth). */
export class Auth {
  constructor(private readonly conn: Connection) {}

  authEnable(options: CallOptions = {}): Promise<etcdserverpb.AuthEnableResponse> {
    return this.conn.unary(etcdserverpb.AuthService.authEnable, {}, 'mutation', options);
  }

  authDisable(options: CallOptions = {}): Promise<etcdserverpb.AuthDisableResponse> {
    return this.conn.unary(etcdserverpb.AuthService.authDisable, {}, 'mutation', options);
  }

  authStatus(options: CallOptions = {}): Promise<etcdserverpb.AuthStatusResponse> {
    return this.conn.unary(etcdserverpb.AuthService.authStatus, {}, 'idempotent', options);
  }

  /** Logs in and returns the token (the client does this itself when given a user). */
  authenticate(
    name: string,
    password: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthenticateResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.authenticate,
      { name, password },
      'idempotent',
      options,
    );
  }

  userAdd(
    name: string,
    password: string,
    options: { noPassword?: boolean } & CallOptions = {},
  ): Promise<etcdserverpb.AuthUserAddResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.userAdd,
      etcdserverpb.AuthUserAddRequest.fromPartial({
        name,
        password,
        options: { noPassword: options.noPassword ?? false },
      }),
      'mutation',
      options,
    );
  }

  userGet(name: string, options: CallOptions = {}): Promise<etcdserverpb.AuthUserGetResponse> {
    return this.conn.unary(etcdserverpb.AuthService.userGet, { name }, 'idempotent', options);
  }

  userList(options: CallOptions = {}): Promise<etcdserverpb.AuthUserListResponse> {
    return this.conn.unary(etcdserverpb.AuthService.userList, {}, 'idempotent', options);
  }

  userDelete(
    name: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthUserDeleteResponse> {
    return this.conn.unary(etcdserverpb.AuthService.userDelete, { name }, 'mutation', options);
  }

  userChangePassword(
    name: string,
    password: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthUserChangePasswordResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.userChangePassword,
      { name, password, hashedPassword: '' },
      'mutation',
      options,
    );
  }

  userGrantRole(
    user: string,
    role: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthUserGrantRoleResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.userGrantRole,
      { user, role },
      'mutation',
      options,
    );
  }

  userRevokeRole(
    name: string,
    role: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthUserRevokeRoleResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.userRevokeRole,
      { name, role },
      'mutation',
      options,
    );
  }

  roleAdd(name: string, options: CallOptions = {}): Promise<etcdserverpb.AuthRoleAddResponse> {
    return this.conn.unary(etcdserverpb.AuthService.roleAdd, { name }, 'mutation', options);
  }

  roleGet(role: string, options: CallOptions = {}): Promise<etcdserverpb.AuthRoleGetResponse> {
    return this.conn.unary(etcdserverpb.AuthService.roleGet, { role }, 'idempotent', options);
  }

  roleList(options: CallOptions = {}): Promise<etcdserverpb.AuthRoleListResponse> {
    return this.conn.unary(etcdserverpb.AuthService.roleList, {}, 'idempotent', options);
  }

  roleDelete(
    role: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthRoleDeleteResponse> {
    return this.conn.unary(etcdserverpb.AuthService.roleDelete, { role }, 'mutation', options);
  }

  /** Grants `type` access on `key` (or [key, rangeEnd); rangeEnd "\0" for every key >= key). */
  roleGrantPermission(
    name: string,
    type: PermissionType,
    key: Bytes,
    rangeEnd: Bytes = new Uint8Array(0),
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthRoleGrantPermissionResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.roleGrantPermission,
      {
        name,
        perm: { permType: PERMISSION_TYPES[type], key: toBytes(key), rangeEnd: toBytes(rangeEnd) },
      },
      'mutation',
      options,
    );
  }

  roleRevokePermission(
    role: string,
    key: Bytes,
    rangeEnd: Bytes = new Uint8Array(0),
    options: CallOptions = {},
  ): Promise<etcdserverpb.AuthRoleRevokePermissionResponse> {
    return this.conn.unary(
      etcdserverpb.AuthService.roleRevokePermission,
      { role, key: toBytes(key), rangeEnd: toBytes(rangeEnd) },
      'mutation',
      options,
    );
  }
}

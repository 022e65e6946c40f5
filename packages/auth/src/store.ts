import { authpb, type etcdserverpb } from '@etcd-ts/api';
import { Bucket } from '@etcd-ts/backend';
import bcrypt from 'bcrypt';
import {
  AuthFailedError,
  AuthNotEnabledError,
  AuthOldRevisionError,
  InvalidAuthMgmtError,
  InvalidAuthTokenError,
  NoPasswordUserError,
  PasswordTooLongError,
  PermissionDeniedError,
  PermissionNotGivenError,
  PermissionNotGrantedError,
  RoleAlreadyExistError,
  RoleEmptyError,
  RoleNotFoundError,
  RoleNotGrantedError,
  RootRoleNotExistError,
  RootUserNotExistError,
  UserAlreadyExistError,
  UserEmptyError,
  UserNotFoundError,
} from './errors.js';
import {
  type IntervalSet,
  isRangeOpPermitted,
  isValidPermissionRange,
  mergePermissions,
} from './range_perm.js';
import {
  type AuthInfo,
  type AuthLogger,
  NopTokenProvider,
  noopLogger,
  type TokenProvider,
} from './tokens.js';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';
/** Keys of the `auth` bucket, as etcd writes them. */
export const AUTH_ENABLED_KEY = Buffer.from('authEnabled');
export const AUTH_REVISION_KEY = Buffer.from('authRevision');
const AUTH_ENABLED = Buffer.from([1]);
const AUTH_DISABLED = Buffer.from([0]);

/** bcrypt's limits and etcd's default cost (--bcrypt-cost). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;
/** bcrypt reads at most 72 bytes of a password; Go's refuses longer ones. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;

/** The slice of the backend the auth store uses; `Backend` from @etcd-ts/backend is one. */
export interface AuthBackend {
  createBucket(bucket: string): void;
  get(bucket: string, key: Uint8Array): Uint8Array | undefined;
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: string, key: Uint8Array): void;
  forEach(bucket: string, fn: (key: Buffer, value: Uint8Array) => boolean | undefined): void;
  forceCommit(): void;
}

export interface AuthStoreConfig {
  backend: AuthBackend;
  /** Defaults to no provider: nobody can obtain a token (etcd without --auth-token). */
  tokenProvider?: TokenProvider;
  /** bcrypt cost for passwords (etcd's --bcrypt-cost); out of [4, 31] falls back to 10. */
  bcryptCost?: number;
  logger?: AuthLogger;
}

/** A user's permission cache entry: root passes every check without looking at ranges. */
interface CachedPermissions {
  isRoot: boolean;
  read: IntervalSet;
  write: IntervalSet;
}

const EMPTY_HEADER = undefined;
/** `authenticate` re-checks a password at most this many times while auth keeps changing. */
export const MAX_AUTHENTICATE_ATTEMPTS = 16;

/** Hashes `password` with bcrypt and returns it as etcd's servers put it in requests: base64. */
export async function hashPassword(password: string, cost = BCRYPT_DEFAULT_COST): Promise<string> {
  if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) throw new PasswordTooLongError();
  const hash = await bcrypt.hash(password, cost);
  return Buffer.from(hash, 'latin1').toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function hasRootRole(user: authpb.User): boolean {
  return user.roles.includes(ROOT_ROLE);
}

function nameKey(name: string): Buffer {
  return Buffer.from(name, 'utf8');
}

function byNameBytes(a: string, b: string): number {
  return Buffer.compare(nameKey(a), nameKey(b));
}

/**
 * etcd's auth store. Users and roles are persisted in the `authUsers` and `authRoles`
 * buckets (authpb messages keyed by name) and mirrored in memory; the `auth` bucket holds
 * "authEnabled" (one byte) and "authRevision" (8 bytes, big-endian), bumped by every change.
 * Changes arrive through consensus (the request types are etcdserverpb's, as in raft
 * entries); passwords are hashed before proposing (`hashPassword`), never while applying.
 * Permission checks read a per-user cache of merged key intervals: one binary search each.
 */
export class AuthStore {
  private backend: AuthBackend;
  private readonly logger: AuthLogger;
  readonly tokenProvider: TokenProvider;
  readonly bcryptCost: number;
  private enabled = false;
  private rev = 0;
  private users = new Map<string, authpb.User>();
  private roles = new Map<string, authpb.Role>();
  /** username -> merged permissions; entries are dropped on change and rebuilt on use. */
  private readonly permCache = new Map<string, CachedPermissions>();

  constructor(config: AuthStoreConfig) {
    this.backend = config.backend;
    this.logger = config.logger ?? noopLogger;
    this.tokenProvider = config.tokenProvider ?? new NopTokenProvider();
    let cost = config.bcryptCost ?? BCRYPT_DEFAULT_COST;
    if (!(Number.isInteger(cost) && cost >= BCRYPT_MIN_COST && cost <= BCRYPT_MAX_COST)) {
      this.logger.warn(
        {
          'min-cost': BCRYPT_MIN_COST,
          'max-cost': BCRYPT_MAX_COST,
          'default-cost': BCRYPT_DEFAULT_COST,
          'given-cost': cost,
        },
        'use default bcrypt cost instead of the invalid given cost',
      );
      cost = BCRYPT_DEFAULT_COST;
    }
    this.bcryptCost = cost;
    const b = this.backend;
    b.createBucket(Bucket.auth);
    b.createBucket(Bucket.authUsers);
    b.createBucket(Bucket.authRoles);
    this.load();
    if (this.rev === 0) this.commitRevision();
    b.forceCommit();
  }

  /** The auth revision: bumped by every change to users, roles, permissions or enablement. */
  get revision(): number {
    return this.rev;
  }

  isAuthEnabled(): boolean {
    return this.enabled;
  }

  /** etcd's AuthStatus: whether auth is on, and the auth revision. */
  authStatus(): etcdserverpb.AuthStatusResponse {
    return { header: EMPTY_HEADER, enabled: this.enabled, authRevision: this.rev };
  }

  /** Hashes a password at this store's bcrypt cost (the proposing member does this). */
  hashPassword(password: string): Promise<string> {
    return hashPassword(password, this.bcryptCost);
  }

  // ---- enable / disable ----

  authEnable(): etcdserverpb.AuthEnableResponse {
    if (this.enabled) {
      this.logger.info({}, 'authentication is already enabled; ignored auth enable request');
      return { header: EMPTY_HEADER };
    }
    try {
      const root = this.users.get(ROOT_USER);
      if (root === undefined) throw new RootUserNotExistError();
      if (!hasRootRole(root)) throw new RootRoleNotExistError();
      this.backend.put(Bucket.auth, AUTH_ENABLED_KEY, AUTH_ENABLED);
      this.enabled = true;
      this.tokenProvider.enable();
      this.permCache.clear();
      this.logger.info({}, 'enabled authentication');
      return { header: EMPTY_HEADER };
    } finally {
      this.backend.forceCommit();
    }
  }

  authDisable(): etcdserverpb.AuthDisableResponse {
    if (!this.enabled) return { header: EMPTY_HEADER };
    this.backend.put(Bucket.auth, AUTH_ENABLED_KEY, AUTH_DISABLED);
    this.commitRevision();
    this.backend.forceCommit();
    this.enabled = false;
    this.tokenProvider.disable();
    this.logger.info({}, 'disabled authentication');
    return { header: EMPTY_HEADER };
  }

  // ---- authentication ----

  /**
   * Checks a password (etcd's CheckPassword, run by the member that receives Authenticate,
   * before proposing) and returns the auth revision it was checked at: if the revision has
   * moved by the time the Authenticate entry is applied, the server checks again.
   */
  async checkPassword(name: string, password: string): Promise<number> {
    if (!this.enabled) throw new AuthNotEnabledError();
    const user = this.users.get(name);
    if (user === undefined) throw new AuthFailedError();
    if (user.options?.noPassword) throw new NoPasswordUserError();
    const rev = this.rev;
    const hash = Buffer.from(user.password).toString('latin1');
    // A malformed stored hash fails like a wrong password.
    const ok = hash.length > 0 && (await bcrypt.compare(password, hash).catch(() => false));
    if (!ok) {
      this.logger.info({ 'user-name': name }, 'invalid password');
      throw new AuthFailedError();
    }
    return rev;
  }

  /** A fresh simple-token prefix (empty for JWT), drawn by the proposing member. */
  genTokenPrefix(): string {
    return this.tokenProvider.genTokenPrefix();
  }

  /**
   * Applies an Authenticate entry (etcd's AuthStore.Authenticate in the applier): issues a
   * token for `req.name`, the simple token from `req.simpleToken` and the entry's raft
   * `index`. The password was checked before proposing. Everything the store reads is read
   * before the first await; only JWT signing is asynchronous.
   */
  async applyAuthenticate(
    req: Pick<etcdserverpb.InternalAuthenticateRequest, 'name' | 'simpleToken'>,
    index: number,
  ): Promise<etcdserverpb.AuthenticateResponse> {
    if (!this.enabled) throw new AuthNotEnabledError();
    const user = this.users.get(req.name);
    if (user === undefined) throw new AuthFailedError();
    if (user.options?.noPassword) throw new AuthFailedError();
    const token = await this.tokenProvider.assign(req.name, this.rev, {
      index,
      simpleTokenPrefix: req.simpleToken,
    });
    return { header: EMPTY_HEADER, token };
  }

  /**
   * Checks the password and issues a token in one step: what a server does for Authenticate
   * when it applies locally (a single member, tests). `index` is the raft index to embed
   * in a simple token.
   */
  async authenticate(
    name: string,
    password: string,
    index = 0,
  ): Promise<etcdserverpb.AuthenticateResponse> {
    // As etcd: a password checked against an auth revision that has since moved is checked
    // again; bounded, so a store changing faster than bcrypt runs cannot keep us here.
    for (let attempt = 1; ; attempt++) {
      const checked = await this.checkPassword(name, password);
      const simpleToken = this.genTokenPrefix();
      const resp = await this.applyAuthenticate({ name, simpleToken }, index);
      if (checked === this.rev) return resp;
      if (attempt >= MAX_AUTHENTICATE_ATTEMPTS) throw new AuthOldRevisionError();
    }
  }

  /**
   * Resolves a request's token (etcd's AuthInfoFromCtx): undefined when auth is disabled or
   * there is no token, InvalidAuthTokenError when the token is unknown, expired or forged.
   */
  async authInfoFromToken(
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<AuthInfo | undefined> {
    if (!this.enabled || token === undefined) return undefined;
    const info = await this.tokenProvider.info(token, this.rev, signal);
    if (info === undefined) {
      this.logger.warn({ token }, 'invalid auth token');
      throw new InvalidAuthTokenError();
    }
    return info;
  }

  /**
   * The identity of a client that presented a verified certificate (etcd's AuthInfoFromTLS):
   * its common name is the user name. The server must not call this for requests relayed by
   * the gRPC gateway, whose certificate is the proxy's own.
   */
  authInfoFromTLS(commonName: string | undefined): AuthInfo | undefined {
    if (commonName === undefined || commonName === '') return undefined;
    return { username: commonName, revision: this.rev };
  }

  /**
   * A token for root, for requests the server makes on its own behalf (etcd's WithRoot,
   * used to revoke expired leases). Undefined while auth is disabled.
   */
  async rootToken(): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    const simpleTokenPrefix = this.tokenProvider.genTokenPrefix();
    return this.tokenProvider.assign(ROOT_USER, this.rev, { index: 0, simpleTokenPrefix });
  }

  // ---- users ----

  userAdd(r: etcdserverpb.AuthUserAddRequest): etcdserverpb.AuthUserAddResponse {
    if (r.name.length === 0) throw new UserEmptyError();
    if (this.users.has(r.name)) throw new UserAlreadyExistError();
    const options = r.options ?? { noPassword: false };
    const password = options.noPassword
      ? new Uint8Array(0)
      : this.selectPassword(r.password, r.hashedPassword);
    this.putUser({ name: nameKey(r.name), password, roles: [], options });
    this.commitRevision();
    this.permCache.delete(r.name);
    this.logger.info({ 'user-name': r.name }, 'added a user');
    return { header: EMPTY_HEADER };
  }

  userDelete(r: etcdserverpb.AuthUserDeleteRequest): etcdserverpb.AuthUserDeleteResponse {
    if (this.enabled && r.name === ROOT_USER) {
      this.logger.error({ 'user-name': r.name }, "cannot delete 'root' user");
      throw new InvalidAuthMgmtError();
    }
    const user = this.users.get(r.name);
    if (user === undefined) throw new UserNotFoundError();
    this.backend.delete(Bucket.authUsers, nameKey(r.name));
    this.users.delete(r.name);
    this.commitRevision();
    this.permCache.delete(r.name);
    this.tokenProvider.invalidateUser(r.name);
    this.logger.info({ 'user-name': r.name, 'user-roles': user.roles }, 'deleted a user');
    return { header: EMPTY_HEADER };
  }

  userChangePassword(
    r: etcdserverpb.AuthUserChangePasswordRequest,
  ): etcdserverpb.AuthUserChangePasswordResponse {
    const user = this.users.get(r.name);
    if (user === undefined) throw new UserNotFoundError();
    // A user created without a password keeps none (users from before 3.5 have no options).
    const password =
      user.options === undefined || !user.options.noPassword
        ? this.selectPassword(r.password, r.hashedPassword)
        : new Uint8Array(0);
    this.putUser({ ...user, password });
    this.commitRevision();
    this.permCache.delete(r.name);
    this.tokenProvider.invalidateUser(r.name);
    this.logger.info(
      { 'user-name': r.name, 'user-roles': user.roles },
      'changed a password of a user',
    );
    return { header: EMPTY_HEADER };
  }

  userGrantRole(r: etcdserverpb.AuthUserGrantRoleRequest): etcdserverpb.AuthUserGrantRoleResponse {
    const user = this.users.get(r.user);
    if (user === undefined) throw new UserNotFoundError();
    // The root role need not exist as a role: granting it makes a user all-powerful.
    if (r.role !== ROOT_ROLE && !this.roles.has(r.role)) throw new RoleNotFoundError();
    if (user.roles.includes(r.role)) {
      this.logger.warn(
        { 'user-name': r.user, 'user-roles': user.roles, 'duplicate-role-name': r.role },
        'ignored grant role request to a user',
      );
      return { header: EMPTY_HEADER };
    }
    const roles = [...user.roles, r.role].sort();
    this.putUser({ ...user, roles });
    this.commitRevision();
    this.permCache.delete(r.user);
    this.logger.info(
      { 'user-name': r.user, 'user-roles': roles, 'added-role-name': r.role },
      'granted a role to a user',
    );
    return { header: EMPTY_HEADER };
  }

  userGet(r: etcdserverpb.AuthUserGetRequest): etcdserverpb.AuthUserGetResponse {
    const user = this.users.get(r.name);
    if (user === undefined) throw new UserNotFoundError();
    return { header: EMPTY_HEADER, roles: [...user.roles] };
  }

  /** Every user name, in byte order (the bucket's order). */
  userList(_r: etcdserverpb.AuthUserListRequest = {}): etcdserverpb.AuthUserListResponse {
    return { header: EMPTY_HEADER, users: [...this.users.keys()].sort(byNameBytes) };
  }

  userRevokeRole(
    r: etcdserverpb.AuthUserRevokeRoleRequest,
  ): etcdserverpb.AuthUserRevokeRoleResponse {
    if (this.enabled && r.name === ROOT_USER && r.role === ROOT_ROLE) {
      this.logger.error(
        { 'user-name': r.name, 'role-name': r.role },
        "'root' user cannot revoke 'root' role",
      );
      throw new InvalidAuthMgmtError();
    }
    const user = this.users.get(r.name);
    if (user === undefined) throw new UserNotFoundError();
    const roles = user.roles.filter((role) => role !== r.role);
    if (roles.length === user.roles.length) throw new RoleNotGrantedError();
    this.putUser({ ...user, roles });
    this.commitRevision();
    this.permCache.delete(r.name);
    this.logger.info(
      {
        'user-name': r.name,
        'old-user-roles': user.roles,
        'new-user-roles': roles,
        'revoked-role-name': r.role,
      },
      'revoked a role from a user',
    );
    return { header: EMPTY_HEADER };
  }

  /** Whether `user` holds `role` (false for an unknown user). */
  hasRole(user: string, role: string): boolean {
    const u = this.users.get(user);
    if (u === undefined) {
      this.logger.warn(
        { 'user-name': user, 'role-name': role },
        "'has-role' requested for non-existing user",
      );
      return false;
    }
    return u.roles.includes(role);
  }

  // ---- roles ----

  roleAdd(r: etcdserverpb.AuthRoleAddRequest): etcdserverpb.AuthRoleAddResponse {
    if (r.name.length === 0) throw new RoleEmptyError();
    if (this.roles.has(r.name)) throw new RoleAlreadyExistError();
    this.putRole({ name: nameKey(r.name), keyPermission: [] });
    this.commitRevision();
    this.logger.info({ 'role-name': r.name }, 'created a role');
    return { header: EMPTY_HEADER };
  }

  roleGet(r: etcdserverpb.AuthRoleGetRequest): etcdserverpb.AuthRoleGetResponse {
    const role = this.roles.get(r.role);
    if (role === undefined) throw new RoleNotFoundError();
    return { header: EMPTY_HEADER, perm: role.keyPermission.map((p) => ({ ...p })) };
  }

  /** Every role name, in byte order. */
  roleList(_r: etcdserverpb.AuthRoleListRequest = {}): etcdserverpb.AuthRoleListResponse {
    return { header: EMPTY_HEADER, roles: [...this.roles.keys()].sort(byNameBytes) };
  }

  roleDelete(r: etcdserverpb.AuthRoleDeleteRequest): etcdserverpb.AuthRoleDeleteResponse {
    if (this.enabled && r.role === ROOT_ROLE) {
      this.logger.error({ 'role-name': r.role }, "cannot delete 'root' role");
      throw new InvalidAuthMgmtError();
    }
    if (!this.roles.has(r.role)) throw new RoleNotFoundError();
    this.backend.delete(Bucket.authRoles, nameKey(r.role));
    this.roles.delete(r.role);
    // Take the role away from every user that held it, in the same batch.
    for (const user of [...this.users.values()]) {
      if (!user.roles.includes(r.role)) continue;
      this.putUser({ ...user, roles: user.roles.filter((x) => x !== r.role) });
    }
    this.commitRevision();
    this.permCache.clear();
    this.logger.info({ 'role-name': r.role }, 'deleted a role');
    return { header: EMPTY_HEADER };
  }

  roleGrantPermission(
    r: etcdserverpb.AuthRoleGrantPermissionRequest,
  ): etcdserverpb.AuthRoleGrantPermissionResponse {
    const perm = r.perm;
    if (perm === undefined) throw new PermissionNotGivenError();
    if (!isValidPermissionRange(perm.key, perm.rangeEnd)) throw new InvalidAuthMgmtError();
    const role = this.roles.get(r.name);
    if (role === undefined) throw new RoleNotFoundError();
    const perms = role.keyPermission.map((p) => ({ ...p }));
    // As etcd: look at the first permission on the same key; same range end -> update it.
    const idx = lowerBound(perms, perm.key);
    const at = perms[idx];
    if (
      at !== undefined &&
      Buffer.compare(at.key, perm.key) === 0 &&
      Buffer.compare(at.rangeEnd, perm.rangeEnd) === 0
    ) {
      at.permType = perm.permType;
    } else {
      perms.push({
        permType: perm.permType,
        key: Uint8Array.prototype.slice.call(perm.key),
        rangeEnd: Uint8Array.prototype.slice.call(perm.rangeEnd),
      });
      // Stable: permissions on one key keep their order.
      perms.sort((a, b) => Buffer.compare(a.key, b.key));
    }
    this.putRole({ ...role, keyPermission: perms });
    this.commitRevision();
    this.permCache.clear();
    this.logger.info(
      { 'user-name': r.name, 'permission-name': authpb.Permission_Type[perm.permType] },
      'granted/updated a permission to a user',
    );
    return { header: EMPTY_HEADER };
  }

  roleRevokePermission(
    r: etcdserverpb.AuthRoleRevokePermissionRequest,
  ): etcdserverpb.AuthRoleRevokePermissionResponse {
    const role = this.roles.get(r.role);
    if (role === undefined) throw new RoleNotFoundError();
    const perms = role.keyPermission.filter(
      (p) => Buffer.compare(p.key, r.key) !== 0 || Buffer.compare(p.rangeEnd, r.rangeEnd) !== 0,
    );
    if (perms.length === role.keyPermission.length) throw new PermissionNotGrantedError();
    this.putRole({ ...role, keyPermission: perms });
    this.commitRevision();
    this.permCache.clear();
    this.logger.info(
      {
        'role-name': r.role,
        key: Buffer.from(r.key).toString(),
        'range-end': Buffer.from(r.rangeEnd).toString(),
      },
      'revoked a permission on range',
    );
    return { header: EMPTY_HEADER };
  }

  // ---- permission checks ----

  /** A Put of `key` (etcd's IsPutPermitted: WRITE on the key). Throws when refused. */
  isPutPermitted(authInfo: AuthInfo | undefined, key: Uint8Array): void {
    this.isOpPermitted(authInfo, key, undefined, true);
  }

  /** A Range (or Watch) of [key, rangeEnd): READ on all of it. Throws when refused. */
  isRangePermitted(authInfo: AuthInfo | undefined, key: Uint8Array, rangeEnd?: Uint8Array): void {
    this.isOpPermitted(authInfo, key, rangeEnd, false);
  }

  /** A DeleteRange of [key, rangeEnd): WRITE on all of it. Throws when refused. */
  isDeleteRangePermitted(
    authInfo: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd?: Uint8Array,
  ): void {
    this.isOpPermitted(authInfo, key, rangeEnd, true);
  }

  /**
   * Revoking a lease, or attaching a new key to it, needs WRITE on every key already
   * attached to it (etcd's checkLeasePuts): whoever could not delete those keys one by one
   * must not make them vanish through the lease. Root passes at once. Throws when refused.
   */
  isLeaseKeysPermitted(authInfo: AuthInfo | undefined, keys: Iterable<Uint8Array>): void {
    if (!this.enabled) return;
    const user = authInfo === undefined ? undefined : this.users.get(authInfo.username);
    if (user !== undefined && hasRootRole(user)) return;
    for (const key of keys) this.isPutPermitted(authInfo, key);
  }

  /** UserGet: root, or a user asking about itself (etcd's authApplierV3.UserGet). */
  isUserGetPermitted(authInfo: AuthInfo | undefined, name: string): void {
    try {
      this.isAdminPermitted(authInfo);
    } catch (err) {
      if (authInfo === undefined || name !== authInfo.username) throw err;
    }
  }

  /** RoleGet: root, or a user holding the role (etcd's authApplierV3.RoleGet). */
  isRoleGetPermitted(authInfo: AuthInfo | undefined, role: string): void {
    try {
      this.isAdminPermitted(authInfo);
    } catch (err) {
      if (authInfo === undefined || !this.users.get(authInfo.username)?.roles.includes(role)) {
        throw err;
      }
    }
  }

  /** Auth, member, alarm, defrag... management: root only. Throws when refused. */
  isAdminPermitted(authInfo: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (authInfo === undefined || authInfo.username === '') throw new UserEmptyError();
    const user = this.users.get(authInfo.username);
    if (user === undefined) throw new UserNotFoundError();
    if (!hasRootRole(user)) throw new PermissionDeniedError();
  }

  private isOpPermitted(
    authInfo: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined,
    write: boolean,
  ): void {
    if (!this.enabled) return;
    // Revision 0 only comes from an empty AuthInfo: no user was given.
    if (authInfo === undefined || authInfo.revision === 0) throw new UserEmptyError();
    if (authInfo.revision < this.rev) {
      this.logger.warn(
        {
          'current node auth revision': this.rev,
          'request auth revision': authInfo.revision,
        },
        'request auth revision is less than current node auth revision',
      );
      throw new AuthOldRevisionError();
    }
    const perms = this.permissionsOf(authInfo.username);
    if (perms === undefined) {
      this.logger.error(
        { 'user-name': authInfo.username },
        'cannot find a user for permission check',
      );
      throw new PermissionDeniedError();
    }
    if (perms.isRoot) return;
    if (!isRangeOpPermitted(write ? perms.write : perms.read, key, rangeEnd)) {
      throw new PermissionDeniedError();
    }
  }

  private permissionsOf(username: string): CachedPermissions | undefined {
    let perms = this.permCache.get(username);
    if (perms !== undefined) return perms;
    const user = this.users.get(username);
    if (user === undefined) return undefined;
    const roles: authpb.Role[] = [];
    for (const name of user.roles) {
      const role = this.roles.get(name);
      if (role !== undefined) roles.push(role);
    }
    perms = { isRoot: hasRootRole(user), ...mergePermissions(roles) };
    this.permCache.set(username, perms);
    return perms;
  }

  // ---- persistence ----

  /** Reloads everything from `backend` (after a raft snapshot replaced it). */
  recover(backend: AuthBackend): void {
    this.backend = backend;
    const wasEnabled = this.enabled;
    this.load();
    if (this.enabled && !wasEnabled) this.tokenProvider.enable();
    if (!this.enabled && wasEnabled) this.tokenProvider.disable();
  }

  /** Stops the token provider (drops simple tokens). */
  close(): void {
    if (this.enabled) this.tokenProvider.disable();
  }

  private load(): void {
    const b = this.backend;
    const flag = b.get(Bucket.auth, AUTH_ENABLED_KEY);
    this.enabled = flag !== undefined && flag.byteLength === 1 && flag[0] === 1;
    const rev = b.get(Bucket.auth, AUTH_REVISION_KEY);
    this.rev =
      rev === undefined || rev.byteLength !== 8
        ? 0
        : Number(Buffer.from(rev.buffer, rev.byteOffset, 8).readBigUInt64BE());
    const users = new Map<string, authpb.User>();
    // Decoded bytes fields are views into the input: copy it, the backend may reuse it.
    b.forEach(Bucket.authUsers, (k, v) => {
      users.set(Buffer.from(k).toString('utf8'), authpb.User.decode(Buffer.from(v)));
      return true;
    });
    const roles = new Map<string, authpb.Role>();
    b.forEach(Bucket.authRoles, (k, v) => {
      roles.set(Buffer.from(k).toString('utf8'), authpb.Role.decode(Buffer.from(v)));
      return true;
    });
    this.users = users;
    this.roles = roles;
    this.permCache.clear();
    if (this.enabled) this.tokenProvider.enable();
  }

  private selectPassword(password: string, hashedPassword: string): Uint8Array {
    if (password !== '' && hashedPassword === '') {
      // An entry proposed by a member older than 3.5 carries the plain password.
      if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) throw new NoPasswordUserError();
      return Buffer.from(bcrypt.hashSync(password, this.bcryptCost), 'latin1');
    }
    if (!BASE64.test(hashedPassword)) throw new NoPasswordUserError();
    return Buffer.from(hashedPassword, 'base64');
  }

  private putUser(user: authpb.User): void {
    const name = Buffer.from(user.name).toString('utf8');
    this.backend.put(Bucket.authUsers, user.name, authpb.User.encode(user).finish());
    this.users.set(name, user);
  }

  private putRole(role: authpb.Role): void {
    const name = Buffer.from(role.name).toString('utf8');
    this.backend.put(Bucket.authRoles, role.name, authpb.Role.encode(role).finish());
    this.roles.set(name, role);
  }

  private commitRevision(): void {
    this.rev++;
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(this.rev));
    this.backend.put(Bucket.auth, AUTH_REVISION_KEY, b);
  }
}

/** First index whose permission key is >= key (perms sorted by key). */
function lowerBound(perms: authpb.Permission[], key: Uint8Array): number {
  let lo = 0;
  let hi = perms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(perms[mid]!.key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

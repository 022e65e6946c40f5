import { authpb } from '@etcd-ts/api';
import { Bucket } from '@etcd-ts/backend';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthFailedError,
  AuthNotEnabledError,
  AuthOldRevisionError,
  InvalidAuthMgmtError,
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
  AUTH_ENABLED_KEY,
  AUTH_REVISION_KEY,
  AuthStore,
  type AuthStoreConfig,
  BCRYPT_DEFAULT_COST,
  hashPassword,
  MAX_AUTHENTICATE_ATTEMPTS,
} from './store.js';
import { TempBackend } from './test_helpers.test.js';
import { SimpleTokenProvider } from './tokens.js';

const { READ, WRITE, READWRITE } = authpb.Permission_Type;
const COST = 4; // bcrypt's minimum: tests stay fast
const b = (s: string) => Buffer.from(s);

let tmp: TempBackend;

beforeEach(() => {
  tmp = new TempBackend();
});

afterEach(async () => {
  await tmp.dispose();
});

function newStore(cfg: Partial<AuthStoreConfig> = {}): AuthStore {
  return new AuthStore({ backend: tmp.backend, bcryptCost: COST, ...cfg });
}

async function addUser(s: AuthStore, name: string, password = `${name}-pw`): Promise<void> {
  s.userAdd({
    name,
    password: '',
    hashedPassword: await s.hashPassword(password),
    options: undefined,
  });
}

function grant(
  s: AuthStore,
  role: string,
  permType: authpb.Permission_Type,
  key: string | Uint8Array,
  rangeEnd: string | Uint8Array = '',
): void {
  s.roleGrantPermission({
    name: role,
    perm: {
      permType,
      key: typeof key === 'string' ? b(key) : key,
      rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd,
    },
  });
}

/** root with the root role, then auth enabled. */
async function enableWithRoot(s: AuthStore): Promise<void> {
  await addUser(s, 'root');
  s.userGrantRole({ user: 'root', role: 'root' });
  s.authEnable();
}

function storedRevision(): number {
  const v = tmp.backend.get(Bucket.auth, AUTH_REVISION_KEY)!;
  expect(v.byteLength).toBe(8);
  return Number(v.readBigUInt64BE());
}

describe('store basics', () => {
  it('a new store starts disabled at revision 1, persisted as etcd does', () => {
    const s = newStore();
    expect(s.isAuthEnabled()).toBe(false);
    expect(s.revision).toBe(1);
    expect(storedRevision()).toBe(1);
    expect(s.authStatus()).toEqual({ header: undefined, enabled: false, authRevision: 1 });
    expect(tmp.backend.bucketNames()).toEqual(
      expect.arrayContaining(['auth', 'authRoles', 'authUsers']),
    );
  });

  it('falls back to the default bcrypt cost for an invalid one', () => {
    expect(newStore({ bcryptCost: 3 }).bcryptCost).toBe(BCRYPT_DEFAULT_COST);
    expect(newStore({ bcryptCost: 32 }).bcryptCost).toBe(BCRYPT_DEFAULT_COST);
    expect(newStore().bcryptCost).toBe(COST);
  });

  it('hashPassword gives base64 of a bcrypt hash, and refuses passwords over 72 bytes', async () => {
    const h = await hashPassword('pw', COST);
    expect(Buffer.from(h, 'base64').toString()).toMatch(/^\$2[aby]\$04\$/);
    await expect(hashPassword('x'.repeat(73), COST)).rejects.toThrow(PasswordTooLongError);
    await expect(hashPassword('x'.repeat(73), COST)).rejects.toThrow(
      'bcrypt: password length exceeds 72 bytes',
    );
  });
});

describe('users', () => {
  it('adds users with a hashed password, persisted as authpb.User, bumping the revision', async () => {
    const s = newStore();
    await addUser(s, 'alice');
    expect(s.revision).toBe(2);
    expect(storedRevision()).toBe(2);
    const rec = authpb.User.decode(tmp.backend.get(Bucket.authUsers, b('alice'))!);
    expect(Buffer.from(rec.name).toString()).toBe('alice');
    expect(Buffer.from(rec.password).toString()).toMatch(/^\$2[aby]\$04\$/);
    expect(rec.options).toEqual({ noPassword: false });
    expect(() =>
      s.userAdd({ name: 'alice', password: '', hashedPassword: '', options: undefined }),
    ).toThrow(UserAlreadyExistError);
    expect(() =>
      s.userAdd({ name: '', password: '', hashedPassword: '', options: undefined }),
    ).toThrow(/^auth: user name is empty$/);
    expect(() =>
      s.userAdd({ name: 'bob', password: '', hashedPassword: 'not base64!', options: undefined }),
    ).toThrow(NoPasswordUserError);
  });

  it('adds a user without a password for certificate-only login', () => {
    const s = newStore();
    s.userAdd({ name: 'cert', password: '', hashedPassword: '', options: { noPassword: true } });
    const rec = authpb.User.decode(tmp.backend.get(Bucket.authUsers, b('cert'))!);
    expect(rec.password.byteLength).toBe(0);
    expect(rec.options).toEqual({ noPassword: true });
    expect(s.authInfoFromTLS('cert')).toEqual({ username: 'cert', revision: s.revision });
    expect(s.authInfoFromTLS('')).toBeUndefined();
  });

  it('hashes a plain password from an entry proposed by a pre-3.5 member', async () => {
    const s = newStore();
    s.userAdd({ name: 'old', password: 'secret', hashedPassword: '', options: undefined });
    await enableWithRoot(s);
    await expect(s.checkPassword('old', 'secret')).resolves.toBe(s.revision);
  });

  it('grants and revokes roles; lists users and roles in byte order', async () => {
    const s = newStore();
    await addUser(s, 'u');
    s.roleAdd({ name: 'b' });
    s.roleAdd({ name: 'a' });
    expect(() => s.userGrantRole({ user: 'u', role: 'zz' })).toThrow(RoleNotFoundError);
    expect(() => s.userGrantRole({ user: 'x', role: 'a' })).toThrow(UserNotFoundError);
    s.userGrantRole({ user: 'u', role: 'b' });
    s.userGrantRole({ user: 'u', role: 'a' });
    const rev = s.revision;
    s.userGrantRole({ user: 'u', role: 'a' }); // already granted: ignored, no new revision
    expect(s.revision).toBe(rev);
    expect(s.userGet({ name: 'u' }).roles).toEqual(['a', 'b']);
    expect(s.hasRole('u', 'a')).toBe(true);
    expect(s.hasRole('nobody', 'a')).toBe(false);
    s.userRevokeRole({ name: 'u', role: 'a' });
    expect(() => s.userRevokeRole({ name: 'u', role: 'a' })).toThrow(RoleNotGrantedError);
    expect(() => s.userRevokeRole({ name: 'nobody', role: 'a' })).toThrow(UserNotFoundError);
    expect(s.userGet({ name: 'u' }).roles).toEqual(['b']);
    expect(() => s.userGet({ name: 'nobody' })).toThrow(/^auth: user not found$/);
    await addUser(s, 'Zed');
    await addUser(s, 'abc');
    expect(s.userList().users).toEqual(['Zed', 'abc', 'u']);
    expect(s.roleList().roles).toEqual(['a', 'b']);
    s.userDelete({ name: 'abc' });
    expect(() => s.userDelete({ name: 'abc' })).toThrow(UserNotFoundError);
    expect(s.userList().users).toEqual(['Zed', 'u']);
    expect(tmp.backend.get(Bucket.authUsers, b('abc'))).toBeUndefined();
  });

  it('changes a password: the old one stops working, the user keeps its roles', async () => {
    const s = newStore();
    await enableWithRoot(s);
    await addUser(s, 'u', 'old');
    s.roleAdd({ name: 'r' });
    s.userGrantRole({ user: 'u', role: 'r' });
    s.userChangePassword({ name: 'u', password: '', hashedPassword: await s.hashPassword('new') });
    await expect(s.checkPassword('u', 'old')).rejects.toThrow(AuthFailedError);
    await expect(s.checkPassword('u', 'new')).resolves.toBe(s.revision);
    expect(s.userGet({ name: 'u' }).roles).toEqual(['r']);
    expect(() => s.userChangePassword({ name: 'x', password: '', hashedPassword: '' })).toThrow(
      UserNotFoundError,
    );
    // A user without a password keeps none.
    s.userAdd({ name: 'c', password: '', hashedPassword: '', options: { noPassword: true } });
    s.userChangePassword({ name: 'c', password: '', hashedPassword: await s.hashPassword('p') });
    expect(authpb.User.decode(tmp.backend.get(Bucket.authUsers, b('c'))!).password.byteLength).toBe(
      0,
    );
  });
});

describe('roles and permissions', () => {
  it('adds roles and grants, updates and revokes permissions, sorted by key', () => {
    const s = newStore();
    expect(() => s.roleAdd({ name: '' })).toThrow(RoleEmptyError);
    s.roleAdd({ name: 'r' });
    expect(() => s.roleAdd({ name: 'r' })).toThrow(RoleAlreadyExistError);
    grant(s, 'r', READ, 'm', 'n');
    grant(s, 'r', WRITE, 'a');
    grant(s, 'r', READWRITE, 'm', 'n'); // same key and end: updated in place
    grant(s, 'r', READ, 'z', '\0');
    expect(s.roleGet({ role: 'r' }).perm).toEqual([
      { permType: WRITE, key: b('a'), rangeEnd: b('') },
      { permType: READWRITE, key: b('m'), rangeEnd: b('n') },
      { permType: READ, key: b('z'), rangeEnd: b('\0') },
    ]);
    const rec = authpb.Role.decode(tmp.backend.get(Bucket.authRoles, b('r'))!);
    expect(rec.keyPermission).toHaveLength(3);
    expect(() => s.roleGrantPermission({ name: 'r', perm: undefined })).toThrow(
      PermissionNotGivenError,
    );
    expect(() => grant(s, 'r', READ, '', '')).toThrow(InvalidAuthMgmtError);
    expect(() => grant(s, 'r', READ, 'b', 'a')).toThrow(/^auth: invalid auth management$/);
    expect(() => grant(s, 'nope', READ, 'a')).toThrow(RoleNotFoundError);
    s.roleRevokePermission({ role: 'r', key: b('m'), rangeEnd: b('n') });
    expect(() => s.roleRevokePermission({ role: 'r', key: b('m'), rangeEnd: b('n') })).toThrow(
      PermissionNotGrantedError,
    );
    expect(() => s.roleRevokePermission({ role: 'x', key: b('m'), rangeEnd: b('') })).toThrow(
      RoleNotFoundError,
    );
    expect(s.roleGet({ role: 'r' }).perm.map((p) => p.key.toString())).toEqual(['a', 'z']);
    expect(() => s.roleGet({ role: 'x' })).toThrow(/^auth: role not found$/);
  });

  it('deleting a role takes it away from every user', async () => {
    const s = newStore();
    await addUser(s, 'u1');
    await addUser(s, 'u2');
    s.roleAdd({ name: 'r' });
    s.roleAdd({ name: 'q' });
    s.userGrantRole({ user: 'u1', role: 'r' });
    s.userGrantRole({ user: 'u2', role: 'r' });
    s.userGrantRole({ user: 'u2', role: 'q' });
    s.roleDelete({ role: 'r' });
    expect(() => s.roleDelete({ role: 'r' })).toThrow(RoleNotFoundError);
    expect(s.userGet({ name: 'u1' }).roles).toEqual([]);
    expect(s.userGet({ name: 'u2' }).roles).toEqual(['q']);
    expect(authpb.User.decode(tmp.backend.get(Bucket.authUsers, b('u2'))!).roles).toEqual(['q']);
    expect(s.roleList().roles).toEqual(['q']);
  });
});

describe('enable and disable', () => {
  it('needs user root with role root; enabling does not bump the revision, disabling does', async () => {
    const s = newStore();
    expect(() => s.authEnable()).toThrow(RootUserNotExistError);
    expect(() => s.authEnable()).toThrow(/^auth: root user does not exist$/);
    await addUser(s, 'root');
    expect(() => s.authEnable()).toThrow(RootRoleNotExistError);
    expect(() => s.authEnable()).toThrow(/^auth: root user does not have root role$/);
    s.userGrantRole({ user: 'root', role: 'root' }); // the root role need not exist
    const rev = s.revision;
    s.authEnable();
    s.authEnable(); // already enabled: ignored
    expect(s.isAuthEnabled()).toBe(true);
    expect(s.revision).toBe(rev);
    expect(tmp.backend.get(Bucket.auth, AUTH_ENABLED_KEY)).toEqual(Buffer.from([1]));
    s.authDisable();
    expect(s.isAuthEnabled()).toBe(false);
    expect(s.revision).toBe(rev + 1);
    expect(tmp.backend.get(Bucket.auth, AUTH_ENABLED_KEY)).toEqual(Buffer.from([0]));
    s.authDisable(); // already disabled: nothing changes
    expect(s.revision).toBe(rev + 1);
  });

  it('while enabled, root cannot be deleted, lose its role, nor the root role be deleted', async () => {
    const s = newStore();
    s.roleAdd({ name: 'root' });
    await enableWithRoot(s);
    expect(() => s.userDelete({ name: 'root' })).toThrow(InvalidAuthMgmtError);
    expect(() => s.userRevokeRole({ name: 'root', role: 'root' })).toThrow(InvalidAuthMgmtError);
    expect(() => s.roleDelete({ role: 'root' })).toThrow(InvalidAuthMgmtError);
    s.authDisable();
    s.userRevokeRole({ name: 'root', role: 'root' });
    s.roleDelete({ role: 'root' });
    s.userDelete({ name: 'root' });
  });
});

describe('passwords', () => {
  it('checks passwords only while enabled, and refuses unknown users and password-less users', async () => {
    const s = newStore();
    await addUser(s, 'u', 'pw');
    await expect(s.checkPassword('u', 'pw')).rejects.toThrow(AuthNotEnabledError);
    await expect(s.checkPassword('u', 'pw')).rejects.toThrow(
      /^auth: authentication is not enabled$/,
    );
    await enableWithRoot(s);
    await expect(s.checkPassword('u', 'pw')).resolves.toBe(s.revision);
    await expect(s.checkPassword('u', 'bad')).rejects.toThrow(
      /^auth: authentication failed, invalid user ID or password$/,
    );
    await expect(s.checkPassword('nobody', 'pw')).rejects.toThrow(AuthFailedError);
    s.userAdd({ name: 'cert', password: '', hashedPassword: '', options: { noPassword: true } });
    await expect(s.checkPassword('cert', '')).rejects.toThrow(NoPasswordUserError);
    await expect(s.applyAuthenticate({ name: 'cert', simpleToken: 'x' }, 1)).rejects.toThrow(
      AuthFailedError,
    );
  });
});

describe('authenticate', () => {
  it('gives up after MAX_AUTHENTICATE_ATTEMPTS when auth changes under every attempt', async () => {
    let s!: AuthStore;
    let assigned = 0;
    const provider = new SimpleTokenProvider();
    const churning = Object.assign(Object.create(provider), {
      type: 'simple',
      assign: async (...args: Parameters<SimpleTokenProvider['assign']>) => {
        assigned++;
        s.roleAdd({ name: `churn-${assigned}` }); // moves the auth revision
        return provider.assign(...args);
      },
    }) as SimpleTokenProvider;
    s = newStore({ tokenProvider: churning });
    await enableWithRoot(s);
    await expect(s.authenticate('root', 'root-pw')).rejects.toThrow(AuthOldRevisionError);
    expect(assigned).toBe(MAX_AUTHENTICATE_ATTEMPTS);
  });
});

describe('permission checks', () => {
  async function setup(): Promise<AuthStore> {
    const s = newStore();
    await enableWithRoot(s);
    s.userAdd({ name: 'u', password: '', hashedPassword: '', options: { noPassword: true } });
    s.roleAdd({ name: 'r' });
    s.userGrantRole({ user: 'u', role: 'r' });
    grant(s, 'r', READ, 'foo/', 'foo0'); // prefix foo/
    grant(s, 'r', WRITE, 'foo/w/', 'foo/w0');
    grant(s, 'r', READWRITE, 'single');
    grant(s, 'r', READ, 'tail', '\0'); // every key >= tail
    return s;
  }

  it('everything is permitted while auth is disabled', () => {
    const s = newStore();
    s.isPutPermitted(undefined, b('x'));
    s.isRangePermitted({ username: '', revision: 0 }, b('x'), b('\0'));
    s.isAdminPermitted(undefined);
  });

  it('answers reads and writes from the merged ranges of the user', async () => {
    const s = await setup();
    const u = { username: 'u', revision: s.revision };
    s.isRangePermitted(u, b('foo/a'));
    s.isRangePermitted(u, b('foo/'), b('foo0'));
    s.isRangePermitted(u, b('foo/a'), b('foo/b'));
    expect(() => s.isRangePermitted(u, b('foo/'), b('foo1'))).toThrow(PermissionDeniedError);
    expect(() => s.isRangePermitted(u, b('foo'))).toThrow(/^auth: permission denied$/);
    expect(() => s.isPutPermitted(u, b('foo/a'))).toThrow(PermissionDeniedError);
    s.isPutPermitted(u, b('foo/w/x'));
    s.isDeleteRangePermitted(u, b('foo/w/'), b('foo/w0'));
    expect(() => s.isDeleteRangePermitted(u, b('foo/w/'), b('\0'))).toThrow(PermissionDeniedError);
    s.isPutPermitted(u, b('single'));
    s.isRangePermitted(u, b('single'));
    expect(() => s.isPutPermitted(u, b('single2'))).toThrow(PermissionDeniedError);
    s.isRangePermitted(u, b('tail'), b('\0'));
    s.isRangePermitted(u, b('zzz'));
    expect(() => s.isRangePermitted(u, b('a'), b('\0'))).toThrow(PermissionDeniedError);
    expect(() => s.isRangePermitted(u, b(''))).toThrow(PermissionDeniedError);
  });

  it('refuses no user, a stale auth revision and an unknown user; root may do anything', async () => {
    const s = await setup();
    expect(() => s.isPutPermitted({ username: 'u', revision: 0 }, b('x'))).toThrow(UserEmptyError);
    expect(() => s.isPutPermitted(undefined, b('x'))).toThrow(UserEmptyError);
    expect(() =>
      s.isRangePermitted({ username: 'u', revision: s.revision - 1 }, b('foo/a')),
    ).toThrow(AuthOldRevisionError);
    expect(() =>
      s.isRangePermitted({ username: 'u', revision: s.revision - 1 }, b('foo/a')),
    ).toThrow(/^auth: revision in header is old$/);
    expect(() => s.isPutPermitted({ username: 'ghost', revision: s.revision }, b('x'))).toThrow(
      PermissionDeniedError,
    );
    const root = { username: 'root', revision: s.revision };
    s.isPutPermitted(root, b('anything'));
    s.isDeleteRangePermitted(root, b('\0'), b('\0'));
    s.isAdminPermitted(root);
    expect(() => s.isAdminPermitted({ username: 'u', revision: s.revision })).toThrow(
      PermissionDeniedError,
    );
    expect(() => s.isAdminPermitted({ username: '', revision: s.revision })).toThrow(
      UserEmptyError,
    );
    expect(() => s.isAdminPermitted({ username: 'ghost', revision: s.revision })).toThrow(
      UserNotFoundError,
    );
  });

  it('"\\0" to "\\0" covers every key', async () => {
    const s = await setup();
    grant(s, 'r', WRITE, '\0', '\0');
    const u = { username: 'u', revision: s.revision };
    s.isDeleteRangePermitted(u, b('\0'), b('\0'));
    s.isPutPermitted(u, Buffer.from([0xff, 0xff]));
  });

  it('a user may read its own user record and the roles it holds; root reads all', async () => {
    const s = await setup();
    const u = { username: 'u', revision: s.revision };
    s.isUserGetPermitted(u, 'u');
    expect(() => s.isUserGetPermitted(u, 'root')).toThrow(PermissionDeniedError);
    s.isRoleGetPermitted(u, 'r');
    expect(() => s.isRoleGetPermitted(u, 'root')).toThrow(PermissionDeniedError);
    const root = { username: 'root', revision: s.revision };
    s.isUserGetPermitted(root, 'u');
    s.isRoleGetPermitted(root, 'r');
  });

  it('revoking a lease needs WRITE on each of its keys, unless root', async () => {
    const s = await setup();
    const u = { username: 'u', revision: s.revision };
    s.isLeaseKeysPermitted(u, [b('foo/w/1'), b('single')]);
    s.isLeaseKeysPermitted(u, []);
    expect(() => s.isLeaseKeysPermitted(u, [b('foo/w/1'), b('foo/a')])).toThrow(
      PermissionDeniedError,
    );
    s.isLeaseKeysPermitted({ username: 'root', revision: s.revision }, [b('foo/a')]);
    expect(() => s.isLeaseKeysPermitted({ username: 'u', revision: 1 }, [b('single')])).toThrow(
      AuthOldRevisionError,
    );
  });

  it('the cache follows every change: grants, revokes, role and user changes', async () => {
    const s = await setup();
    const info = () => ({ username: 'u', revision: s.revision });
    expect(() => s.isPutPermitted(info(), b('new'))).toThrow(PermissionDeniedError);
    s.roleAdd({ name: 'w' });
    grant(s, 'w', WRITE, 'new');
    expect(() => s.isPutPermitted(info(), b('new'))).toThrow(PermissionDeniedError);
    s.userGrantRole({ user: 'u', role: 'w' });
    s.isPutPermitted(info(), b('new'));
    s.roleRevokePermission({ role: 'w', key: b('new'), rangeEnd: b('') });
    expect(() => s.isPutPermitted(info(), b('new'))).toThrow(PermissionDeniedError);
    grant(s, 'w', WRITE, 'new');
    s.isPutPermitted(info(), b('new'));
    s.roleDelete({ role: 'w' });
    expect(() => s.isPutPermitted(info(), b('new'))).toThrow(PermissionDeniedError);
    s.isRangePermitted(info(), b('foo/x'));
    s.userRevokeRole({ name: 'u', role: 'r' });
    expect(() => s.isRangePermitted(info(), b('foo/x'))).toThrow(PermissionDeniedError);
    s.userGrantRole({ user: 'u', role: 'root' });
    s.isPutPermitted(info(), b('anything'));
    s.userDelete({ name: 'u' });
    expect(() => s.isPutPermitted(info(), b('anything'))).toThrow(PermissionDeniedError);
  });
});

describe('restart recovery', () => {
  it('a reopened store has its users, roles, permissions, revision and enablement back', async () => {
    let s = newStore();
    await enableWithRoot(s);
    await addUser(s, 'u', 'pw');
    s.roleAdd({ name: 'r' });
    grant(s, 'r', READ, 'k/', 'k0');
    s.userGrantRole({ user: 'u', role: 'r' });
    const rev = s.revision;
    s.close();

    await tmp.reopen();
    s = newStore();
    expect(s.isAuthEnabled()).toBe(true);
    expect(s.revision).toBe(rev);
    expect(s.userList().users).toEqual(['root', 'u']);
    expect(s.userGet({ name: 'u' }).roles).toEqual(['r']);
    const u = { username: 'u', revision: rev };
    s.isRangePermitted(u, b('k/1'));
    expect(() => s.isPutPermitted(u, b('k/1'))).toThrow(PermissionDeniedError);
    await expect(s.checkPassword('u', 'pw')).resolves.toBe(rev);
    s.authDisable();
    await tmp.reopen();
    s = newStore();
    expect(s.isAuthEnabled()).toBe(false);
    expect(s.revision).toBe(rev + 1);
  });

  it('recover() swaps in another backend and re-enables the token provider', async () => {
    const other = new TempBackend();
    try {
      const tokens = new SimpleTokenProvider();
      const s = newStore({ tokenProvider: tokens });
      const o = new AuthStore({ backend: other.backend, bcryptCost: COST });
      await enableWithRoot(o);
      await addUser(o, 'x');
      s.recover(other.backend);
      expect(s.isAuthEnabled()).toBe(true);
      expect(s.userList().users).toEqual(['root', 'x']);
      expect(s.revision).toBe(o.revision);
      const token = await s.rootToken();
      expect(token).toMatch(/^[a-zA-Z]{16}\.0$/);
      expect(tokens.size).toBe(1);
    } finally {
      await other.dispose();
    }
  });
});

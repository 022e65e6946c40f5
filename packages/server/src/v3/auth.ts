import type { etcdserverpb } from '@etcd-ts/api';
import type { AuthInfo } from '@etcd-ts/auth';
import type { RaftResponses } from '../responses.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;
type AuthKind = Exclude<
  Extract<keyof RaftResponses, `auth${string}`>,
  'authenticate' | 'authUserAdd' | 'authUserChangePassword'
>;

/**
 * etcd's Authenticator (v3_server.go Auth*): every call goes through raft with the
 * caller's user and auth revision (the applier checks its rights as it applies).
 * Passwords are checked or hashed with bcrypt here, before proposing, so no clear
 * password reaches the WAL.
 */
export class Auth {
  constructor(private readonly s: EtcdServer) {}

  /** Any auth request without a password in it (enable, disable, status, user and role ops). */
  async request<K extends AuthKind>(
    kind: K,
    req: InternalRaftRequest[K],
    caller: Caller = anonymous,
  ): Promise<RaftResponses[K]> {
    this.s.assertNotLearner();
    return this.s.filled(await this.s.raftRequest(kind, req, await caller.authInfo()));
  }

  async userAdd(
    req: etcdserverpb.AuthUserAddRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.AuthUserAddResponse> {
    this.s.assertNotLearner();
    const ai = await this.adminFirst(caller);
    const r = req.options?.noPassword === true ? req : await this.hashed(req);
    return this.s.filled(await this.s.raftRequest('authUserAdd', r, ai));
  }

  async userChangePassword(
    req: etcdserverpb.AuthUserChangePasswordRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.AuthUserChangePasswordResponse> {
    this.s.assertNotLearner();
    const ai = await this.adminFirst(caller);
    const r = await this.hashed(req);
    return this.s.filled(await this.s.raftRequest('authUserChangePassword', r, ai));
  }

  /**
   * The caller, refused before any bcrypt work unless it is root while auth is on: hashing
   * is slow by design, and an anonymous client must not be able to make the member do it
   * (the apply step checks again, against the auth revision it applies at).
   */
  private async adminFirst(caller: Caller): Promise<AuthInfo | undefined> {
    const ai = await caller.authInfo();
    this.s.authStore.isAdminPermitted(ai);
    return ai;
  }

  /**
   * The request with its clear password replaced by its bcrypt hash; a hash the client
   * sent itself is kept, and the clear password dropped either way, so none reaches the WAL.
   */
  private async hashed<T extends { password: string; hashedPassword: string }>(r: T): Promise<T> {
    if (r.hashedPassword !== '' || r.password === '') return { ...r, password: '' };
    return { ...r, password: '', hashedPassword: await this.s.authStore.hashPassword(r.password) };
  }

  /**
   * Authenticate (etcd's EtcdServer.Authenticate): the password is checked here, so it
   * never reaches the WAL; the token is issued when the entry applies. A password checked
   * against an auth revision that moved meanwhile is checked again.
   */
  async authenticate(
    req: etcdserverpb.AuthenticateRequest,
  ): Promise<etcdserverpb.AuthenticateResponse> {
    this.s.assertNotLearner();
    const store = this.s.authStore;
    for (;;) {
      const checked = await store.checkPassword(req.name, req.password);
      const simpleToken = store.genTokenPrefix();
      const resp = await this.s.raftRequest('authenticate', {
        name: req.name,
        password: '',
        simpleToken,
      });
      if (checked === store.revision) {
        this.s.lg.debug({ 'user-name': req.name }, 'authenticated a user');
        return this.s.filled(resp);
      }
    }
  }
}

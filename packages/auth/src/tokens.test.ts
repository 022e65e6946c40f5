import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthFailedError,
  AuthNotEnabledError,
  AuthOldRevisionError,
  InvalidAuthMethodError,
  InvalidAuthOptsError,
  InvalidAuthTokenError,
  KeyMismatchError,
  MissingKeyError,
  VerifyOnlyError,
} from './errors.js';
import { AuthStore } from './store.js';
import { TempBackend } from './test_helpers.test.js';
import {
  type Clock,
  DEFAULT_SIMPLE_TOKEN_TTL_MS,
  JwtTokenProvider,
  NopTokenProvider,
  newTokenProvider,
  parseAuthTokenOptions,
  parseGoDuration,
  SimpleTokenProvider,
  type TokenProvider,
} from './tokens.js';

class ManualClock implements Clock {
  ms = Date.UTC(2026, 0, 1);
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const b = (s: string) => Buffer.from(s);
let keyDir: string;
let rsa: { priv: string; pub: string; privPkcs1: string };
let ec: { priv: string; pub: string; privSec1: string };
let otherRsa: { priv: string; pub: string };

beforeAll(() => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-keys-'));
  const r = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  rsa = {
    priv: r.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    pub: r.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    privPkcs1: r.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
  };
  const o = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  otherRsa = {
    priv: o.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    pub: o.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
  const e = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  ec = {
    priv: e.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    pub: e.publicKey.export({ type: 'spki', format: 'pem' }) as string,
    privSec1: e.privateKey.export({ type: 'sec1', format: 'pem' }) as string,
  };
});

afterAll(() => {
  fs.rmSync(keyDir, { recursive: true, force: true });
});

function keyFile(name: string, content: string): string {
  const p = path.join(keyDir, name);
  fs.writeFileSync(p, content);
  return p;
}

describe('--auth-token parsing', () => {
  it('splits the type and key=value options as etcd does', () => {
    expect(parseAuthTokenOptions('simple')).toEqual({ tokenType: 'simple', options: {} });
    expect(
      parseAuthTokenOptions('jwt,pub-key=a.pub,priv-key=a.key,sign-method=RS256,ttl=10m'),
    ).toEqual({
      tokenType: 'jwt',
      options: { 'pub-key': 'a.pub', 'priv-key': 'a.key', 'sign-method': 'RS256', ttl: '10m' },
    });
    expect(parseAuthTokenOptions('')).toEqual({ tokenType: '', options: {} });
    expect(() => parseAuthTokenOptions('jwt,ttl')).toThrow(InvalidAuthOptsError);
    expect(() => parseAuthTokenOptions('jwt,ttl=1=2')).toThrow('auth: invalid auth options');
    expect(() => parseAuthTokenOptions('jwt,ttl=1m,ttl=2m')).toThrow(InvalidAuthOptsError);
  });

  it('parses Go durations', () => {
    expect(parseGoDuration('10m')).toBe(600_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('2h45m30.5s')).toBe(9_930_500);
    expect(parseGoDuration('-1s')).toBe(-1000);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('1500us')).toBeCloseTo(1.5);
    for (const bad of ['', '10', 'm', '1x', '1m ', '.s', '1h-1m']) {
      expect(() => parseGoDuration(bad), bad).toThrow(/invalid duration/);
    }
  });

  it('builds the provider the flag names', () => {
    expect(newTokenProvider('simple')).toBeInstanceOf(SimpleTokenProvider);
    expect(newTokenProvider('')).toBeInstanceOf(NopTokenProvider);
    expect(() => newTokenProvider('paseto')).toThrow(InvalidAuthOptsError);
    const priv = keyFile('rsa.key', rsa.priv);
    const pub = keyFile('rsa.pub', rsa.pub);
    const jwt = newTokenProvider(`jwt,pub-key=${pub},priv-key=${priv},sign-method=RS256,ttl=10m`);
    expect(jwt).toBeInstanceOf(JwtTokenProvider);
    expect((jwt as JwtTokenProvider).ttlMs).toBe(600_000);
    expect((jwt as JwtTokenProvider).verifyOnly).toBe(false);
    const dflt = newTokenProvider(`jwt,priv-key=${priv},sign-method=RS256`) as JwtTokenProvider;
    expect(dflt.ttlMs).toBe(300_000);
    // Loading problems are "invalid auth options"; key problems have their own errors.
    expect(() => newTokenProvider(`jwt,priv-key=${priv}`)).toThrow(InvalidAuthOptsError);
    expect(() => newTokenProvider(`jwt,priv-key=${priv},sign-method=XX1`)).toThrow(
      InvalidAuthOptsError,
    );
    expect(() => newTokenProvider(`jwt,priv-key=/nonexistent,sign-method=RS256`)).toThrow(
      InvalidAuthOptsError,
    );
    expect(() => newTokenProvider(`jwt,priv-key=${priv},sign-method=RS256,ttl=5x`)).toThrow(
      InvalidAuthOptsError,
    );
    expect(() => newTokenProvider('jwt,sign-method=RS256')).toThrow(MissingKeyError);
    const otherPub = keyFile('other.pub', otherRsa.pub);
    expect(() =>
      newTokenProvider(`jwt,pub-key=${otherPub},priv-key=${priv},sign-method=RS256`),
    ).toThrow(KeyMismatchError);
    expect(() => new JwtTokenProvider({ signMethod: 'none', privateKey: rsa.priv })).toThrow(
      InvalidAuthMethodError,
    );
    expect(() => new JwtTokenProvider({ signMethod: 'ES256', privateKey: rsa.priv })).toThrow(
      /needs an EC prime256v1 key/,
    );
  });
});

describe('simple tokens', () => {
  let tmp: TempBackend;
  let clock: ManualClock;

  beforeEach(() => {
    tmp = new TempBackend();
    clock = new ManualClock();
  });
  afterEach(async () => {
    await tmp.dispose();
  });

  async function store(provider: TokenProvider): Promise<AuthStore> {
    const s = new AuthStore({ backend: tmp.backend, bcryptCost: 4, tokenProvider: provider });
    for (const [name, pw] of [
      ['root', 'rootpw'],
      ['alice', 'alicepw'],
    ] as const) {
      s.userAdd({
        name,
        password: '',
        hashedPassword: await s.hashPassword(pw),
        options: undefined,
      });
    }
    s.userGrantRole({ user: 'root', role: 'root' });
    s.authEnable();
    return s;
  }

  it('issues "<16 letters>.<index>" and resolves it to the user at the current revision', async () => {
    const p = new SimpleTokenProvider({ clock });
    const s = await store(p);
    expect(p.genTokenPrefix()).toMatch(/^[a-zA-Z]{16}$/);
    expect(p.genTokenPrefix()).not.toBe(p.genTokenPrefix());
    const { token } = await s.authenticate('alice', 'alicepw', 42);
    expect(token).toMatch(/^[a-zA-Z]{16}\.42$/);
    expect(await s.authInfoFromToken(token)).toEqual({ username: 'alice', revision: s.revision });
    await expect(s.authenticate('alice', 'wrong')).rejects.toThrow(AuthFailedError);
    for (const bad of ['nodot', 'a.b', 'a.1.2', `${token}x`, 'abcdefghijklmnop.42']) {
      await expect(s.authInfoFromToken(bad), bad).rejects.toThrow(InvalidAuthTokenError);
    }
    await expect(s.authInfoFromToken('x.1')).rejects.toThrow(/^auth: invalid auth token$/);
    expect(await s.authInfoFromToken(undefined)).toBeUndefined();
  });

  it('expires 300 s after the last use; each use refreshes it', async () => {
    const p = new SimpleTokenProvider({ clock });
    const s = await store(p);
    const { token } = await s.authenticate('alice', 'alicepw', 1);
    clock.advance(200_000);
    await s.authInfoFromToken(token);
    clock.advance(DEFAULT_SIMPLE_TOKEN_TTL_MS);
    await s.authInfoFromToken(token); // exactly at the deadline: still valid
    clock.advance(DEFAULT_SIMPLE_TOKEN_TTL_MS + 1);
    await expect(s.authInfoFromToken(token)).rejects.toThrow(InvalidAuthTokenError);
    // Expired tokens are swept, so memory is bounded by use.
    for (let i = 2; i < 12; i++) await s.authenticate('alice', 'alicepw', i);
    expect(p.size).toBe(10);
    clock.advance(DEFAULT_SIMPLE_TOKEN_TTL_MS + 1);
    await s.authenticate('alice', 'alicepw', 100);
    expect(p.size).toBe(1);
  });

  it('is dropped when its user is deleted or changes password, and when auth is disabled', async () => {
    const p = new SimpleTokenProvider({ clock });
    const s = await store(p);
    const a = (await s.authenticate('alice', 'alicepw', 1)).token;
    const r = (await s.authenticate('root', 'rootpw', 2)).token;
    s.userChangePassword({
      name: 'alice',
      password: '',
      hashedPassword: await s.hashPassword('n'),
    });
    await expect(s.authInfoFromToken(a)).rejects.toThrow(InvalidAuthTokenError);
    expect((await s.authInfoFromToken(r))?.username).toBe('root');
    const a2 = (await s.authenticate('alice', 'n', 3)).token;
    s.userDelete({ name: 'alice' });
    await expect(s.authInfoFromToken(a2)).rejects.toThrow(InvalidAuthTokenError);
    s.authDisable();
    expect(await s.authInfoFromToken(r)).toBeUndefined(); // auth off: tokens are not looked at
    s.authEnable();
    await expect(s.authInfoFromToken(r)).rejects.toThrow(InvalidAuthTokenError);
    await expect(s.authenticate('root', 'rootpw')).resolves.toBeDefined();
    s.authDisable();
    await expect(s.authenticate('root', 'rootpw')).rejects.toThrow(AuthNotEnabledError);
  });

  it('a request checked at an older auth revision is refused once auth changed', async () => {
    const s = await store(new SimpleTokenProvider({ clock }));
    s.roleAdd({ name: 'rw' });
    s.roleGrantPermission({ name: 'rw', perm: { permType: 2, key: b('k'), rangeEnd: b('') } });
    s.userGrantRole({ user: 'alice', role: 'rw' });
    const { token } = await s.authenticate('alice', 'alicepw', 1);
    const info = (await s.authInfoFromToken(token))!;
    s.isPutPermitted(info, b('k'));
    s.roleAdd({ name: 'unrelated' }); // any change moves the auth revision
    expect(() => s.isPutPermitted(info, b('k'))).toThrow(AuthOldRevisionError);
    const fresh = (await s.authInfoFromToken(token))!;
    s.isPutPermitted(fresh, b('k'));
  });

  it('waits until the member has applied the index the token was issued at', async () => {
    let applied = 0;
    const waiters: Array<{ index: number; resolve: () => void }> = [];
    const p = new SimpleTokenProvider({
      clock,
      indexWaiter: (index, signal) =>
        index <= applied
          ? Promise.resolve()
          : new Promise((resolve, reject) => {
              waiters.push({ index, resolve });
              signal?.addEventListener('abort', () => reject(new Error('aborted')));
            }),
    });
    const s = await store(p);
    const { token } = await s.authenticate('alice', 'alicepw', 7);
    const pending = s.authInfoFromToken(token);
    await new Promise((r) => setImmediate(r));
    expect(waiters.map((w) => w.index)).toEqual([7]);
    applied = 7;
    waiters[0]!.resolve();
    expect((await pending)?.username).toBe('alice');
    const ac = new AbortController();
    const { token: t2 } = await s.authenticate('alice', 'alicepw', 9);
    const aborted = s.authInfoFromToken(t2, ac.signal);
    ac.abort();
    await expect(aborted).rejects.toThrow(InvalidAuthTokenError);
  });

  it('a root token for the server itself, only while enabled', async () => {
    const p = new SimpleTokenProvider({ clock });
    const s = await store(p);
    const t = (await s.rootToken())!;
    expect((await s.authInfoFromToken(t))?.username).toBe('root');
    s.authDisable();
    expect(await s.rootToken()).toBeUndefined();
  });

  it('without --auth-token nobody can get a token', async () => {
    const s = await store(new NopTokenProvider());
    await expect(s.authenticate('alice', 'alicepw')).rejects.toThrow(AuthFailedError);
    await expect(s.authInfoFromToken('anything')).rejects.toThrow(InvalidAuthTokenError);
  });
});

describe('JWT tokens', () => {
  let tmp: TempBackend;
  let clock: ManualClock;

  beforeEach(() => {
    tmp = new TempBackend();
    clock = new ManualClock();
  });
  afterEach(async () => {
    await tmp.dispose();
  });

  async function store(provider: TokenProvider): Promise<AuthStore> {
    const s = new AuthStore({ backend: tmp.backend, bcryptCost: 4, tokenProvider: provider });
    s.userAdd({
      name: 'root',
      password: '',
      hashedPassword: await s.hashPassword('rootpw'),
      options: undefined,
    });
    s.userGrantRole({ user: 'root', role: 'root' });
    s.authEnable();
    return s;
  }

  for (const method of ['RS256', 'PS384', 'ES256'] as const) {
    it(`${method}: signs {username, revision, exp}, verifies, expires after the TTL`, async () => {
      const keys = method === 'ES256' ? ec : rsa;
      const p = new JwtTokenProvider({
        signMethod: method,
        privateKey: keys.priv,
        publicKey: keys.pub,
        ttlMs: 10 * 60_000,
        clock,
      });
      const s = await store(p);
      const { token } = await s.authenticate('root', 'rootpw');
      expect(decodeProtectedHeader(token)).toEqual({ alg: method, typ: 'JWT' });
      expect(decodeJwt(token)).toEqual({
        username: 'root',
        revision: s.revision,
        exp: Math.floor(clock.now() / 1000) + 600,
      });
      expect(await s.authInfoFromToken(token)).toEqual({ username: 'root', revision: s.revision });
      clock.advance(9 * 60_000);
      expect((await s.authInfoFromToken(token))?.username).toBe('root');
      clock.advance(2 * 60_000);
      await expect(s.authInfoFromToken(token)).rejects.toThrow(InvalidAuthTokenError);
    });
  }

  it('a token minted before an auth change carries the old revision and is refused', async () => {
    const p = new JwtTokenProvider({ signMethod: 'RS256', privateKey: rsa.privPkcs1, clock });
    const s = await store(p);
    const { token } = await s.authenticate('root', 'rootpw');
    const info = (await s.authInfoFromToken(token))!;
    s.isPutPermitted(info, b('k'));
    s.roleAdd({ name: 'x' });
    const stale = (await s.authInfoFromToken(token))!;
    expect(stale.revision).toBe(s.revision - 1);
    expect(() => s.isPutPermitted(stale, b('k'))).toThrow(/^auth: revision in header is old$/);
  });

  it('refuses forged, tampered and wrongly signed tokens', async () => {
    const p = new JwtTokenProvider({ signMethod: 'RS256', privateKey: rsa.priv, clock });
    const s = await store(p);
    const { token } = await s.authenticate('root', 'rootpw');
    const [h, , sig] = token.split('.');
    const forgedClaims = Buffer.from(
      JSON.stringify({ username: 'root', revision: 999, exp: 9_999_999_999 }),
    ).toString('base64url');
    const other = new JwtTokenProvider({ signMethod: 'RS256', privateKey: otherRsa.priv, clock });
    const es = new JwtTokenProvider({ signMethod: 'ES256', privateKey: ec.privSec1, clock });
    const bad = [
      `${h}.${forgedClaims}.${sig}`,
      await other.assign('root', s.revision),
      await es.assign('root', s.revision), // alg mismatch
      'not.a.jwt',
    ];
    for (const t of bad)
      await expect(s.authInfoFromToken(t)).rejects.toThrow(InvalidAuthTokenError);
  });

  it('with only a public key it verifies but never signs', async () => {
    const signer = new JwtTokenProvider({ signMethod: 'ES256', privateKey: ec.priv, clock });
    const verifier = new JwtTokenProvider({ signMethod: 'ES256', publicKey: ec.pub, clock });
    expect(verifier.verifyOnly).toBe(true);
    const t = await signer.assign('alice', 3);
    expect(await verifier.info(t)).toEqual({ username: 'alice', revision: 3 });
    await expect(verifier.assign('alice', 3)).rejects.toThrow(VerifyOnlyError);
  });

  it('HS256 uses the priv-key file bytes as the shared secret', async () => {
    const secret = keyFile('hmac.key', 'a-shared-secret-of-some-length!!');
    const p = newTokenProvider(`jwt,priv-key=${secret},sign-method=HS256`, { clock });
    const t = await p.assign('bob', 5, { index: 0, simpleTokenPrefix: '' });
    expect(await p.info(t, 0)).toEqual({ username: 'bob', revision: 5 });
    expect(() => newTokenProvider('jwt,sign-method=HS256')).toThrow(MissingKeyError);
  });
});

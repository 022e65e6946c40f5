import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { jwtVerify, SignJWT } from 'jose';
import {
  AuthFailedError,
  InvalidAuthMethodError,
  InvalidAuthOptsError,
  KeyMismatchError,
  MissingKeyError,
  VerifyOnlyError,
} from './errors.js';

/** Who a request runs as, and the auth revision its permissions were checked against. */
export interface AuthInfo {
  username: string;
  revision: number;
}

/** Wall-clock milliseconds since the epoch (JWT expiry is absolute time). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The slice of pino's Logger the auth store uses. */
export interface AuthLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const noopLogger: AuthLogger = { info() {}, warn() {}, error() {} };

/**
 * What the applier hands to token assignment (etcd passes them in the context): the raft
 * index of the Authenticate entry and the random prefix the proposing member drew.
 */
export interface AssignParams {
  index: number;
  simpleTokenPrefix: string;
}

/** etcd's TokenProvider: issues tokens at Authenticate and resolves them on every request. */
export interface TokenProvider {
  readonly type: 'simple' | 'jwt' | 'nop';
  /** The user and revision behind `token`, or undefined when it is not (or no longer) valid. */
  info(token: string, revision: number, signal?: AbortSignal): Promise<AuthInfo | undefined>;
  assign(username: string, revision: number, params: AssignParams): Promise<string>;
  enable(): void;
  disable(): void;
  /** Drops every token of `username` (deleted, or its password changed). */
  invalidateUser(username: string): void;
  /** A random prefix for a simple token; empty for other providers. */
  genTokenPrefix(): string;
}

/** --auth-token-ttl's default: a simple token lives 300 s past its last use. */
export const DEFAULT_SIMPLE_TOKEN_TTL_MS = 300_000;
/** JWT's default `ttl` option: 5 minutes. */
export const DEFAULT_JWT_TTL_MS = 5 * 60_000;
const SIMPLE_TOKEN_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SIMPLE_TOKEN_PREFIX_LENGTH = 16;
/** Expired simple tokens are swept at most this often (etcd's keeper ticks once a second). */
const SIMPLE_TOKEN_SWEEP_INTERVAL_MS = 1000;

/**
 * Waits until the member has applied raft index `index`: a simple token is issued by the
 * applier at that index, so a member that has not applied it yet does not know the token.
 */
export type IndexWaiter = (index: number, signal?: AbortSignal) => Promise<void>;

export interface SimpleTokenOptions {
  ttlMs?: number;
  clock?: Clock;
  indexWaiter?: IndexWaiter;
  logger?: AuthLogger;
}

interface SimpleToken {
  username: string;
  expiresAt: number;
}

/**
 * etcd's simple tokens: "<16 random letters>.<raft index>", kept in memory by every member,
 * expiring `ttlMs` after their last use. Not signed: anyone who sees one can use it.
 */
export class SimpleTokenProvider implements TokenProvider {
  readonly type = 'simple';
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly indexWaiter: IndexWaiter | undefined;
  /** undefined while disabled (etcd's nil TTL keeper): assigned tokens are not kept. */
  private tokens: Map<string, SimpleToken> | undefined;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(opts: SimpleTokenOptions = {}) {
    this.ttlMs =
      opts.ttlMs !== undefined && opts.ttlMs > 0 ? opts.ttlMs : DEFAULT_SIMPLE_TOKEN_TTL_MS;
    this.clock = opts.clock ?? systemClock;
    this.indexWaiter = opts.indexWaiter;
  }

  /** Tokens currently held (for tests and metrics). */
  get size(): number {
    return this.tokens?.size ?? 0;
  }

  enable(): void {
    this.tokens ??= new Map();
  }

  disable(): void {
    this.tokens = undefined;
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_PREFIX_LENGTH; i++) {
      s += SIMPLE_TOKEN_LETTERS[crypto.randomInt(SIMPLE_TOKEN_LETTERS.length)];
    }
    return s;
  }

  async assign(username: string, _revision: number, params: AssignParams): Promise<string> {
    const token = `${params.simpleTokenPrefix}.${params.index}`;
    const tokens = this.tokens;
    if (tokens === undefined) return token;
    if (tokens.has(token)) {
      throw new Error(`auth: failed to assign already-used simple token to user ${username}`);
    }
    this.sweep();
    tokens.set(token, { username, expiresAt: this.clock.now() + this.ttlMs });
    return token;
  }

  async info(token: string, revision: number, signal?: AbortSignal): Promise<AuthInfo | undefined> {
    const parts = token.split('.');
    if (parts.length !== 2 || !/^[0-9]+$/.test(parts[1]!)) return undefined;
    const index = Number(parts[1]);
    if (!Number.isSafeInteger(index)) return undefined;
    if (this.indexWaiter !== undefined) {
      try {
        await this.indexWaiter(index, signal);
      } catch {
        return undefined;
      }
    }
    const tokens = this.tokens;
    const t = tokens?.get(token);
    if (tokens === undefined || t === undefined) return undefined;
    const now = this.clock.now();
    if (now > t.expiresAt) {
      tokens.delete(token);
      return undefined;
    }
    t.expiresAt = now + this.ttlMs; // refreshed on use
    this.sweep();
    return { username: t.username, revision };
  }

  invalidateUser(username: string): void {
    const tokens = this.tokens;
    if (tokens === undefined) return;
    for (const [token, t] of tokens) if (t.username === username) tokens.delete(token);
  }

  /** Drops expired tokens; runs at most once a second, so memory is bounded by use. */
  private sweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweep < SIMPLE_TOKEN_SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    const tokens = this.tokens;
    if (tokens === undefined) return;
    for (const [token, t] of tokens) if (now > t.expiresAt) tokens.delete(token);
  }
}

/** The JWT signing methods etcd accepts (golang-jwt's names). */
const JWT_METHODS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
]);
const EC_CURVES: Record<string, string> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

export interface JwtTokenOptions {
  /** RS256/384/512, PS256/384/512, ES256/384/512 or HS256/384/512. */
  signMethod: string;
  /** PEM (PKCS#1, PKCS#8 or SEC1) or a KeyObject; for HS*, the secret's bytes. */
  privateKey?: string | Uint8Array | KeyObject;
  /** PEM (SPKI or PKCS#1) or a KeyObject. With only a public key the provider only verifies. */
  publicKey?: string | Uint8Array | KeyObject;
  ttlMs?: number;
  clock?: Clock;
  logger?: AuthLogger;
}

/**
 * etcd's JWT tokens: signed claims {username, revision, exp}. Any member verifies them
 * without shared state; a token minted before an auth change carries the old revision and
 * is refused with "revision of auth store is old", so clients re-authenticate.
 */
export class JwtTokenProvider implements TokenProvider {
  readonly type = 'jwt';
  readonly signMethod: string;
  readonly ttlMs: number;
  /** Only a public key was given: tokens are verified, never issued. */
  readonly verifyOnly: boolean;
  private readonly signKey: KeyObject | Uint8Array | undefined;
  private readonly verifyKey: KeyObject | Uint8Array;
  private readonly clock: Clock;
  private readonly logger: AuthLogger;

  constructor(opts: JwtTokenOptions) {
    const method = opts.signMethod;
    if (!JWT_METHODS.has(method)) {
      if (method === 'EdDSA') throw new Error('unsupported signing method: EdDSA');
      throw new InvalidAuthMethodError();
    }
    this.signMethod = method;
    this.ttlMs = opts.ttlMs ?? DEFAULT_JWT_TTL_MS;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? noopLogger;
    if (method.startsWith('HS')) {
      // HMAC: the "private key" file's bytes are the shared secret.
      const secret = opts.privateKey;
      if (secret === undefined || isKeyObject(secret)) throw new MissingKeyError();
      const bytes = typeof secret === 'string' ? Buffer.from(secret) : secret;
      if (bytes.byteLength === 0) throw new MissingKeyError();
      this.signKey = bytes;
      this.verifyKey = bytes;
      this.verifyOnly = false;
      return;
    }
    const priv = opts.privateKey === undefined ? undefined : toPrivateKey(opts.privateKey);
    const pub = opts.publicKey === undefined ? undefined : toPublicKey(opts.publicKey);
    if (priv === undefined && pub === undefined) throw new MissingKeyError();
    const derived = priv === undefined ? pub! : crypto.createPublicKey(priv);
    if (priv !== undefined && pub !== undefined && !sameKey(derived, pub)) {
      throw new KeyMismatchError();
    }
    checkKeyType(method, derived);
    this.signKey = priv;
    this.verifyKey = derived;
    this.verifyOnly = priv === undefined;
  }

  /**
   * Builds a provider from --auth-token's jwt options: `sign-method` (required), `pub-key`
   * and `priv-key` (file paths), `ttl` (a Go duration, default 5m).
   */
  static fromOptions(
    opts: Record<string, string>,
    extra: { clock?: Clock; logger?: AuthLogger } = {},
  ): JwtTokenProvider {
    const logger = extra.logger ?? noopLogger;
    let ttlMs = DEFAULT_JWT_TTL_MS;
    let publicKey: Buffer | undefined;
    let privateKey: Buffer | undefined;
    try {
      if (opts.ttl) ttlMs = parseGoDuration(opts.ttl);
      if (opts['pub-key']) publicKey = fs.readFileSync(opts['pub-key']);
      if (opts['priv-key']) privateKey = fs.readFileSync(opts['priv-key']);
      if (!JWT_METHODS.has(opts['sign-method'] ?? '') && opts['sign-method'] !== 'EdDSA') {
        throw new InvalidAuthMethodError();
      }
    } catch (err) {
      logger.error({ err }, 'problem loading JWT options');
      throw new InvalidAuthOptsError(err instanceof Error ? err.message : String(err));
    }
    const unknown = Object.keys(opts).filter((k) => !JWT_OPTION_KEYS.has(k));
    if (unknown.length > 0) logger.warn({ keys: unknown }, 'unknown JWT options');
    const o: JwtTokenOptions = { signMethod: opts['sign-method']!, ttlMs, logger };
    if (extra.clock !== undefined) o.clock = extra.clock;
    if (privateKey !== undefined) o.privateKey = privateKey;
    if (publicKey !== undefined) o.publicKey = publicKey;
    return new JwtTokenProvider(o);
  }

  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }

  async assign(username: string, revision: number): Promise<string> {
    if (this.verifyOnly || this.signKey === undefined) throw new VerifyOnlyError();
    return new SignJWT({ username, revision })
      .setProtectedHeader({ alg: this.signMethod, typ: 'JWT' })
      .setExpirationTime(Math.floor((this.clock.now() + this.ttlMs) / 1000))
      .sign(this.signKey);
  }

  async info(token: string): Promise<AuthInfo | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, {
        algorithms: [this.signMethod],
        currentDate: new Date(this.clock.now()),
      });
      const { username, revision } = payload as { username?: unknown; revision?: unknown };
      if (typeof username !== 'string') {
        this.logger.warn({}, 'failed to obtain user claims from jwt token');
        return undefined;
      }
      if (typeof revision !== 'number' || !(revision >= 0)) {
        this.logger.warn({}, 'failed to obtain revision claims from jwt token');
        return undefined;
      }
      return { username, revision: Math.trunc(revision) };
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'failed to parse a JWT token');
      return undefined;
    }
  }
}

const JWT_OPTION_KEYS = new Set(['sign-method', 'pub-key', 'priv-key', 'ttl']);

function toPrivateKey(k: string | Uint8Array | KeyObject): KeyObject {
  if (isKeyObject(k)) return k.type === 'private' ? k : throwMissing();
  return crypto.createPrivateKey({ key: Buffer.from(k as string | Uint8Array), format: 'pem' });
}

function toPublicKey(k: string | Uint8Array | KeyObject): KeyObject {
  if (isKeyObject(k)) return k.type === 'private' ? crypto.createPublicKey(k) : k;
  return crypto.createPublicKey({ key: Buffer.from(k as string | Uint8Array), format: 'pem' });
}

function isKeyObject(k: unknown): k is KeyObject {
  return k instanceof crypto.KeyObject;
}

function throwMissing(): never {
  throw new MissingKeyError();
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  const der = (k: KeyObject) => k.export({ format: 'der', type: 'spki' });
  return Buffer.compare(der(a), der(b)) === 0;
}

function checkKeyType(method: string, key: KeyObject): void {
  const type = key.asymmetricKeyType;
  if (method.startsWith('RS') || method.startsWith('PS')) {
    if (type !== 'rsa' && type !== 'rsa-pss') {
      throw new Error(`auth: ${method} needs an RSA key, got ${type}`);
    }
    return;
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type !== 'ec' || curve !== EC_CURVES[method]) {
    throw new Error(
      `auth: ${method} needs an EC ${EC_CURVES[method]} key, got ${type} ${curve ?? ''}`,
    );
  }
}

/** No --auth-token: nobody can obtain a token (etcd's tokenNop). */
export class NopTokenProvider implements TokenProvider {
  readonly type = 'nop';
  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }
  async info(): Promise<AuthInfo | undefined> {
    return undefined;
  }
  async assign(): Promise<string> {
    throw new AuthFailedError();
  }
}

/** --auth-token split into its type and its `key=value` options (etcd's decomposeOpts). */
export interface AuthTokenOptions {
  tokenType: string;
  options: Record<string, string>;
}

/** Parses --auth-token ("simple", "jwt,pub-key=a.pub,priv-key=a.key,sign-method=RS256,ttl=10m"). */
export function parseAuthTokenOptions(flag: string): AuthTokenOptions {
  const parts = flag.split(',');
  const options: Record<string, string> = Object.create(null);
  for (let i = 1; i < parts.length; i++) {
    const pair = parts[i]!.split('=');
    if (pair.length !== 2) throw new InvalidAuthOptsError(`invalid token option ${flag}`);
    const [k, v] = pair as [string, string];
    if (Object.hasOwn(options, k)) throw new InvalidAuthOptsError(`duplicate parameter ${k}`);
    options[k] = v;
  }
  return { tokenType: parts[0]!, options };
}

export interface TokenProviderConfig {
  /** Simple tokens only: how long a token lives past its last use (--auth-token-ttl). */
  simpleTokenTtlMs?: number;
  indexWaiter?: IndexWaiter;
  clock?: Clock;
  logger?: AuthLogger;
}

/** Builds the provider --auth-token names (etcd's NewTokenProvider). */
export function newTokenProvider(flag: string, config: TokenProviderConfig = {}): TokenProvider {
  const { tokenType, options } = parseAuthTokenOptions(flag);
  const logger = config.logger ?? noopLogger;
  switch (tokenType) {
    case 'simple': {
      logger.warn({}, 'simple token is not cryptographically signed');
      const o: SimpleTokenOptions = { logger };
      if (config.simpleTokenTtlMs !== undefined) o.ttlMs = config.simpleTokenTtlMs;
      if (config.clock !== undefined) o.clock = config.clock;
      if (config.indexWaiter !== undefined) o.indexWaiter = config.indexWaiter;
      return new SimpleTokenProvider(o);
    }
    case 'jwt': {
      const extra: { clock?: Clock; logger?: AuthLogger } = { logger };
      if (config.clock !== undefined) extra.clock = config.clock;
      return JwtTokenProvider.fromOptions(options, extra);
    }
    case '':
      return new NopTokenProvider();
    default:
      logger.warn({ type: tokenType }, 'unknown token type');
      throw new InvalidAuthOptsError(`unknown token type ${tokenType}`);
  }
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("300ms", "1.5h", "2h45m", "-1m", "0") into milliseconds. */
export function parseGoDuration(s: string): number {
  const m = /^([-+]?)(.*)$/.exec(s)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') throw new Error(`time: invalid duration "${s}"`);
  const re = /([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const part = re.exec(body);
    if (part === null || part[1] === '' || part[1] === '.') {
      throw new Error(`time: invalid duration "${s}"`);
    }
    total += Number(part[1]) * DURATION_UNITS_MS[part[2]!]!;
    pos = re.lastIndex;
  }
  return m[1] === '-' ? -total : total;
}

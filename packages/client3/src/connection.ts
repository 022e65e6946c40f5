import { etcdserverpb } from '@etcd-ts/api';
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientUnaryCall,
  connectivityState,
  credentials,
  type CallOptions as GrpcCallOptions,
  Client as GrpcClient,
  Metadata,
  type ServiceError,
  status as Status,
} from '@grpc/grpc-js';
import {
  ErrAuthNotEnabled,
  ErrCanceled,
  ErrDeadlineExceeded,
  ErrInvalidAuthToken,
  ErrNoAvailableEndpoints,
  type EtcdError,
  fromServiceError,
  isServiceError,
} from './errors.js';

/** TLS settings (etcdctl's --cacert/--cert/--key/--insecure-skip-tls-verify). */
export interface TLSOptions {
  /** PEM of the CA(s) that sign the server certificates; the system roots when absent. */
  ca?: Buffer | string;
  /** PEM client certificate and key, for client-certificate authentication. */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Accept any server certificate (testing only). */
  insecureSkipVerify?: boolean;
  /** Server name to verify the certificate against, when it differs from the endpoint host. */
  serverName?: string;
}

/** HTTP/2 keepalive pings that detect a dead connection while no call runs. */
export interface KeepAliveOptions {
  /** Ping after this much idle time (ms). clientv3's DialKeepAliveTime. */
  timeMs: number;
  /** Consider the connection dead when a ping is unanswered this long (ms). */
  timeoutMs: number;
  /** Ping even when no call is open (clientv3's PermitWithoutStream). */
  permitWithoutStream?: boolean;
}

export interface ConnectionOptions {
  /** `host:port`, `http://host:port` or `https://host:port`; at least one. */
  endpoints: readonly string[];
  username?: string;
  password?: string;
  tls?: TLSOptions;
  /** How long a call waits for a connection to some endpoint (ms); clientv3's DialTimeout. */
  dialTimeout?: number;
  keepAlive?: KeepAliveOptions;
  /** Largest request the client sends (bytes); clientv3's default is 2 MiB. */
  maxCallSendMsgSize?: number;
  /** Largest response the client accepts (bytes); clientv3's default is 2 GiB - 1. */
  maxCallRecvMsgSize?: number;
  /**
   * Called after every failed attempt of a unary call (before any retry), as clientv3's
   * retry interceptor logs them: for logging and metrics.
   */
  onCallError?: (failure: CallFailure) => void;
}

/** One failed attempt of a unary call. */
export interface CallFailure {
  /** The endpoint the attempt went to. */
  endpoint: string;
  /** Whether the call asked for that endpoint (no balancing). */
  pinned: boolean;
  /** The gRPC method path, e.g. `/etcdserverpb.KV/Range`. */
  method: string;
  /** 0 for the first attempt. */
  attempt: number;
  /** The gRPC status code and text the server (or transport) gave. */
  code: number;
  details: string;
  error: EtcdError;
}

/** Per-call options every method takes. */
export interface CallOptions {
  /** Give up after this many milliseconds (the call fails with ErrDeadlineExceeded). */
  timeout?: number;
  /** Cancels the call (it fails with ErrCanceled). */
  signal?: AbortSignal;
  /** Send the call to this endpoint only (one of the client's endpoints), no failover. */
  endpoint?: string;
}

/**
 * What a failed call may do again. `idempotent` calls (reads, and writes whose replay is
 * harmless) are retried on any Unavailable error; `mutation`s only when the request never
 * left the client, so that a write is never applied twice.
 */
export type RetryPolicy = 'idempotent' | 'mutation' | 'none';

/** A method of a generated @grpc/grpc-js service definition. */
export interface MethodDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}

/** How long a call waits for some endpoint to connect when no dialTimeout is given. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
/** clientv3's default maximum request size. */
export const DEFAULT_MAX_CALL_SEND_MSG_SIZE = 2 * 1024 * 1024;
/** clientv3's default maximum response size (math.MaxInt32). */
export const DEFAULT_MAX_CALL_RECV_MSG_SIZE = 2 ** 31 - 1;
/** Upper bound on attempts of one call, whatever its deadline. */
export const MAX_CALL_ATTEMPTS = 20;
/** Linear back-off step between retries (clientv3 waits 25 ms per attempt). */
const RETRY_BACKOFF_STEP_MS = 25;
const RETRY_BACKOFF_MAX_MS = 500;
/** How many times a call re-authenticates after an invalid-token answer. */
const MAX_REAUTH = 2;

/** The metadata key etcd reads the auth token from (what clientv3 sends). */
export const TOKEN_METADATA_KEY = 'token';
/** The metadata key (value "true") asking a member to serve a stream only while it has a leader. */
export const REQUIRE_LEADER_METADATA_KEY = 'hasleader';

interface Endpoint {
  /** As the user gave it. */
  readonly name: string;
  /** host:port, the gRPC target. */
  readonly target: string;
  readonly grpc: GrpcClient;
}

/** Splits `scheme://host:port` into whether it asks for TLS and the `host:port` target. */
export function parseEndpoint(endpoint: string): { secure: boolean; target: string } {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(endpoint);
  if (match === null) return { secure: false, target: endpoint };
  const scheme = match[1]!.toLowerCase();
  const rest = match[2]!.replace(/\/+$/, '');
  if (scheme === 'https' || scheme === 'unixs') return { secure: true, target: rest };
  if (scheme === 'unix') return { secure: false, target: `unix:${rest}` };
  return { secure: false, target: rest };
}

function toBuffer(value: Buffer | string | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

function buildCredentials(secure: boolean, tls: TLSOptions | undefined): ChannelCredentials {
  if (!secure && tls === undefined) return credentials.createInsecure();
  const verify =
    tls?.insecureSkipVerify === true
      ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
      : {};
  return credentials.createSsl(toBuffer(tls?.ca), toBuffer(tls?.key), toBuffer(tls?.cert), verify);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The client's connections: one gRPC channel per endpoint, a round-robin picker over the
 * ones that are connected, failover and safe retries for unary calls, streams opened on
 * a connected endpoint, and the auth token attached to every call and refreshed when
 * the server says it is no longer valid.
 */
export class Connection {
  private readonly endpointList: Endpoint[];
  private next = 0;
  private token: string | undefined;
  /** The server said auth is disabled: calls go without a token (as clientv3's do). */
  private authDisabled = false;
  private authenticating: Promise<string | undefined> | undefined;
  private readonly active = new Set<{ cancel(): void }>();
  private readonly closeHooks = new Set<() => void>();
  private isClosed = false;
  readonly dialTimeout: number;

  constructor(private readonly options: ConnectionOptions) {
    if (options.endpoints.length === 0) throw new ErrNoAvailableEndpoints();
    this.dialTimeout = options.dialTimeout ?? DEFAULT_DIAL_TIMEOUT_MS;
    const channelOptions: Record<string, number | string> = {
      'grpc.max_send_message_length': options.maxCallSendMsgSize ?? DEFAULT_MAX_CALL_SEND_MSG_SIZE,
      'grpc.max_receive_message_length':
        options.maxCallRecvMsgSize ?? DEFAULT_MAX_CALL_RECV_MSG_SIZE,
      // Come back quickly after a member restarts; grpc's 1 s..120 s is too slow.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2_000,
    };
    if (options.tls?.serverName !== undefined) {
      channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
      channelOptions['grpc.default_authority'] = options.tls.serverName;
    }
    if (options.keepAlive !== undefined) {
      channelOptions['grpc.keepalive_time_ms'] = options.keepAlive.timeMs;
      channelOptions['grpc.keepalive_timeout_ms'] = options.keepAlive.timeoutMs;
      channelOptions['grpc.keepalive_permit_without_calls'] =
        options.keepAlive.permitWithoutStream === true ? 1 : 0;
    }
    this.endpointList = options.endpoints.map((name) => {
      const { secure, target } = parseEndpoint(name);
      const creds = buildCredentials(secure, options.tls);
      return { name, target, grpc: new GrpcClient(target, creds, channelOptions) };
    });
  }

  get endpoints(): string[] {
    return this.endpointList.map((e) => e.name);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Runs `hook` when the connection closes (watch and lease streams stop there). */
  onClose(hook: () => void): () => void {
    this.closeHooks.add(hook);
    return () => this.closeHooks.delete(hook);
  }

  /** Closes every channel and cancels every call and stream still open. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const hook of [...this.closeHooks]) hook();
    this.closeHooks.clear();
    for (const call of [...this.active]) call.cancel();
    this.active.clear();
    for (const endpoint of this.endpointList) endpoint.grpc.close();
  }

  /**
   * An endpoint whose channel is connected, round-robin; when none is, waits until one
   * connects or the deadline passes.
   */
  private async pick(deadline: number, only?: string, signal?: AbortSignal): Promise<Endpoint> {
    this.assertOpen();
    const candidates =
      only === undefined ? this.endpointList : this.endpointList.filter((e) => e.name === only);
    if (candidates.length === 0) {
      throw new ErrNoAvailableEndpoints();
    }
    for (;;) {
      const n = candidates.length;
      for (let i = 0; i < n; i++) {
        const index = (this.next + i) % n;
        const endpoint = candidates[index]!;
        if (endpoint.grpc.getChannel().getConnectivityState(true) === connectivityState.READY) {
          this.next = (index + 1) % n;
          return endpoint;
        }
      }
      if (Date.now() >= deadline) throw new ErrDeadlineExceeded();
      if (signal?.aborted) throw new ErrCanceled();
      await this.waitForAnyStateChange(candidates, deadline, signal);
      this.assertOpen();
    }
  }

  private waitForAnyStateChange(
    candidates: Endpoint[],
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        unhook();
        resolve();
      };
      // A channel in TRANSIENT_FAILURE may never report a change before its back-off
      // ends; poll as well so a member that comes back is noticed promptly.
      const timer = setTimeout(finish, Math.max(0, Math.min(deadline - Date.now(), 250)));
      const unhook = this.onClose(finish);
      signal?.addEventListener('abort', finish, { once: true });
      for (const endpoint of candidates) {
        const channel = endpoint.grpc.getChannel();
        const state = channel.getConnectivityState(true);
        if (state === connectivityState.SHUTDOWN) continue;
        channel.watchConnectivityState(state, deadline, () => finish());
      }
    });
  }

  private assertOpen(): void {
    if (this.isClosed) throw new ErrCanceled();
  }

  /** The token metadata for the next call, authenticating first when needed. */
  private async metadata(deadline: number, signal?: AbortSignal): Promise<Metadata> {
    const metadata = new Metadata();
    if (this.options.username === undefined || this.authDisabled) return metadata;
    const token = this.token ?? (await this.authenticate(deadline, signal));
    if (token !== undefined) metadata.set(TOKEN_METADATA_KEY, token);
    return metadata;
  }

  /** Logs in once for all waiting calls; resolves to undefined when auth is disabled. */
  private authenticate(deadline: number, signal?: AbortSignal): Promise<string | undefined> {
    if (this.authenticating !== undefined) return this.authenticating;
    const request = etcdserverpb.AuthenticateRequest.fromPartial({
      name: this.options.username ?? '',
      password: this.options.password ?? '',
    });
    this.authenticating = this.attempts(etcdserverpb.AuthService.authenticate, request, {
      policy: 'idempotent',
      deadline,
      signal,
      withToken: false,
    })
      .then(
        (response) => {
          this.token = response.token;
          return response.token;
        },
        (err: unknown) => {
          // A user name with auth disabled is what clientv3 tolerates: no token then.
          if (err instanceof ErrAuthNotEnabled) {
            this.authDisabled = true;
            return undefined;
          }
          throw err;
        },
      )
      .finally(() => {
        this.authenticating = undefined;
      });
    return this.authenticating;
  }

  /** Runs a unary call with failover, retries by `policy` and token refresh. */
  unary<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    policy: RetryPolicy,
    options: CallOptions = {},
  ): Promise<Res> {
    // Without a timeout the call itself may run as long as it takes; only the waits for
    // a connection are bounded (by the dial timeout), as with clientv3 and no deadline.
    const deadline =
      options.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeout;
    return this.attempts(method, request, {
      policy,
      deadline,
      signal: options.signal,
      endpoint: options.endpoint,
      withToken: true,
    });
  }

  private async attempts<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    ctx: {
      policy: RetryPolicy;
      deadline: number;
      signal?: AbortSignal | undefined;
      endpoint?: string | undefined;
      withToken: boolean;
    },
  ): Promise<Res> {
    let reauths = 0;
    for (let attempt = 1; ; attempt++) {
      if (ctx.signal?.aborted) throw new ErrCanceled();
      // Waiting for a connection is bounded by the dial timeout as well as the call's.
      const dialDeadline = Math.min(ctx.deadline, Date.now() + this.dialTimeout);
      const endpoint = await this.pick(dialDeadline, ctx.endpoint, ctx.signal);
      const metadata = ctx.withToken
        ? await this.metadata(ctx.deadline, ctx.signal)
        : new Metadata();
      const sentToken = metadata.get(TOKEN_METADATA_KEY)[0];
      try {
        return await this.once(endpoint, method, request, metadata, ctx.deadline, ctx.signal);
      } catch (raw) {
        const err = isServiceError(raw) ? raw : undefined;
        if (err === undefined) throw raw;
        const typed = fromServiceError(err);
        this.options.onCallError?.({
          endpoint: endpoint.name,
          pinned: ctx.endpoint !== undefined,
          method: method.path,
          attempt: attempt - 1,
          code: err.code,
          details: err.details,
          error: typed,
        });
        if (typed instanceof ErrInvalidAuthToken && ctx.withToken && reauths < MAX_REAUTH) {
          reauths++;
          if (this.token === sentToken) this.token = undefined;
          continue;
        }
        if (!this.retriable(err, ctx.policy) || attempt >= MAX_CALL_ATTEMPTS) throw typed;
        if (Date.now() >= ctx.deadline) throw typed;
        await sleep(Math.min(RETRY_BACKOFF_STEP_MS * attempt, RETRY_BACKOFF_MAX_MS));
      }
    }
  }

  private retriable(err: ServiceError, policy: RetryPolicy): boolean {
    if (err.code !== Status.UNAVAILABLE || this.isClosed) return false;
    if (policy === 'idempotent') return true;
    if (policy === 'none') return false;
    // The request provably never reached a server: no connection carried it.
    return err.details.startsWith('No connection established');
  }

  private once<Req, Res>(
    endpoint: Endpoint,
    method: MethodDefinition<Req, Res>,
    request: Req,
    metadata: Metadata,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const callOptions: GrpcCallOptions = Number.isFinite(deadline)
        ? { deadline: new Date(deadline) }
        : {};
      let call: ClientUnaryCall | undefined;
      const onAbort = () => call?.cancel();
      const entry = { cancel: () => call?.cancel() };
      call = endpoint.grpc.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        callOptions,
        (err: ServiceError | null, response?: Res) => {
          this.active.delete(entry);
          signal?.removeEventListener('abort', onAbort);
          if (err !== null) reject(err);
          else resolve(response as Res);
        },
      );
      this.active.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Opens a bidirectional stream on a connected endpoint with the auth token attached.
   * The caller owns the stream and must end or cancel it.
   */
  async bidi<Req, Res>(
    method: MethodDefinition<Req, Res>,
    options: {
      endpoint?: string;
      signal?: AbortSignal;
      timeout?: number;
      requireLeader?: boolean;
    } = {},
  ): Promise<ClientDuplexStream<Req, Res>> {
    const deadline = Date.now() + (options.timeout ?? this.dialTimeout);
    const endpoint = await this.pick(deadline, options.endpoint, options.signal);
    const metadata = await this.metadata(deadline, options.signal);
    // clientv3's WithRequireLeader: the member ends the stream when it loses its leader,
    // so the stream moves to a member that still has one instead of going quiet.
    if (options.requireLeader === true) metadata.set(REQUIRE_LEADER_METADATA_KEY, 'true');
    this.assertOpen();
    const stream = endpoint.grpc.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      metadata,
      {},
    );
    this.track(stream);
    return stream;
  }

  /** Opens a server stream (the snapshot) on a connected endpoint. */
  async serverStream<Req, Res>(
    method: MethodDefinition<Req, Res>,
    request: Req,
    options: { endpoint?: string; signal?: AbortSignal; timeout?: number } = {},
  ): Promise<ClientReadableStream<Res>> {
    const deadline = Date.now() + (options.timeout ?? this.dialTimeout);
    const endpoint = await this.pick(deadline, options.endpoint, options.signal);
    const metadata = await this.metadata(deadline, options.signal);
    this.assertOpen();
    const stream = endpoint.grpc.makeServerStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      {},
    );
    this.track(stream);
    options.signal?.addEventListener('abort', () => stream.cancel(), { once: true });
    return stream;
  }

  private track(stream: { cancel(): void; on(event: string, listener: () => void): unknown }) {
    const entry = { cancel: () => stream.cancel() };
    this.active.add(entry);
    const untrack = () => this.active.delete(entry);
    stream.on('close', untrack);
    stream.on('error', untrack);
    stream.on('end', untrack);
  }

  /**
   * Waits for a connection to some endpoint and, with credentials, logs in: what
   * clientv3.New does when it blocks. Calls do this on demand; this surfaces a bad
   * endpoint or bad credentials up front.
   */
  async connect(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeout ?? this.dialTimeout);
    await this.pick(deadline, undefined, options.signal);
    await this.metadata(deadline, options.signal);
  }

  /** Drops the cached token, so the next call logs in again. */
  invalidateToken(): void {
    this.token = undefined;
  }

  /** Whether an error means the token must be renewed (for stream owners). */
  static isInvalidToken(err: EtcdError): boolean {
    return err instanceof ErrInvalidAuthToken;
  }
}

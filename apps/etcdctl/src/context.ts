import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, type ClientOptions, EtcdError, grpcCodeName } from '@etcd-ts/client3';
import { Display, type Output, type OutputFormat } from './display.js';
import { CliError, ExitCode } from './errors.js';
import { goDuration } from './gofmt.js';

/** The global flags every command takes (etcdctl's root persistent flags). */
export interface GlobalFlags {
  endpoints: string[];
  dialTimeout: number;
  commandTimeout: number;
  keepaliveTime: number;
  keepaliveTimeout: number;
  insecureTransport: boolean;
  insecureDiscovery: boolean;
  insecureSkipTlsVerify: boolean;
  cert: string | undefined;
  key: string | undefined;
  cacert: string | undefined;
  user: string | undefined;
  password: string | undefined;
  discoverySrv: string | undefined;
  discoverySrvName: string | undefined;
  writeOut: string;
  hex: boolean;
  debug: boolean;
}

/** The flag names in the order pflag visits them (sorted), for --debug. */
export const GLOBAL_FLAG_NAMES = [
  'cacert',
  'cert',
  'command-timeout',
  'debug',
  'dial-timeout',
  'discovery-srv',
  'discovery-srv-name',
  'endpoints',
  'hex',
  'insecure-discovery',
  'insecure-skip-tls-verify',
  'insecure-transport',
  'keepalive-time',
  'keepalive-timeout',
  'key',
  'password',
  'user',
  'write-out',
] as const;

const FORMATS: OutputFormat[] = ['simple', 'json', 'fields', 'table', 'protobuf'];

/**
 * What a running command needs: the flags, the printer, the output streams and clients
 * made on demand (closed when the command ends).
 */
export class Context {
  readonly display: Display;
  private readonly clients: Client[] = [];
  private readonly clientId = randomUUID();

  constructor(
    readonly flags: GlobalFlags,
    readonly io: Output,
    readonly stdin: () => Promise<Buffer>,
    readonly isTTY: boolean,
  ) {
    const format = flags.writeOut as OutputFormat;
    if (!FORMATS.includes(format))
      throw new CliError(ExitCode.BadFeature, 'unsupported output format');
    this.display = new Display(format, flags.hex, io);
  }

  /** Prints the effective flags as ETCDCTL_* variables (etcdctl's --debug). */
  printDebug(): void {
    if (!this.flags.debug) return;
    const f = this.flags;
    const values: Record<(typeof GLOBAL_FLAG_NAMES)[number], string> = {
      cacert: f.cacert ?? '',
      cert: f.cert ?? '',
      'command-timeout': goDuration(f.commandTimeout * 1e6),
      debug: String(f.debug),
      'dial-timeout': goDuration(f.dialTimeout * 1e6),
      'discovery-srv': f.discoverySrv ?? '',
      'discovery-srv-name': f.discoverySrvName ?? '',
      endpoints: `[${f.endpoints.join(',')}]`,
      hex: String(f.hex),
      'insecure-discovery': String(f.insecureDiscovery),
      'insecure-skip-tls-verify': String(f.insecureSkipTlsVerify),
      'insecure-transport': String(f.insecureTransport),
      'keepalive-time': goDuration(f.keepaliveTime * 1e6),
      'keepalive-timeout': goDuration(f.keepaliveTimeout * 1e6),
      key: f.key ?? '',
      password: f.password ?? '',
      user: f.user ?? '',
      'write-out': f.writeOut,
    };
    for (const name of GLOBAL_FLAG_NAMES) {
      this.io.err(`ETCDCTL_${name.toUpperCase().replaceAll('-', '_')}=${values[name]}\n`);
    }
  }

  /** The client options the flags describe, for the given endpoints. */
  clientOptions(
    endpoints = this.flags.endpoints,
    withAuth = true,
    tlsFlags?: Pick<
      GlobalFlags,
      'cert' | 'key' | 'cacert' | 'insecureTransport' | 'insecureSkipTlsVerify'
    >,
  ): ClientOptions {
    const f = { ...this.flags, ...tlsFlags };
    for (const [flag, value] of [
      ['cert', f.cert],
      ['key', f.key],
      ['cacert', f.cacert],
    ] as const) {
      if (value === '') {
        throw new CliError(ExitCode.BadArgs, `empty string is passed to --${flag} option`);
      }
    }
    const wantsTLS =
      f.cert !== undefined ||
      f.key !== undefined ||
      f.cacert !== undefined ||
      !f.insecureTransport ||
      endpoints.some((e) => e.startsWith('https://'));
    const read = (path: string | undefined) => {
      if (path === undefined) return undefined;
      try {
        return readFileSync(path);
      } catch (err) {
        throw new CliError(
          ExitCode.BadArgs,
          `open ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
        );
      }
    };
    const options: ClientOptions = {
      endpoints: endpoints.map((e) => (wantsTLS && !e.includes('://') ? `https://${e}` : e)),
      dialTimeout: f.dialTimeout,
      keepAlive: { timeMs: f.keepaliveTime, timeoutMs: f.keepaliveTimeout },
      onCallError: (failure) => {
        // clientv3's retry interceptor logs every failed attempt at warn level.
        const line = {
          level: 'warn',
          ts: new Date().toISOString(),
          caller: 'clientv3/retry_interceptor.go:62',
          msg: 'retrying of unary invoker failed',
          // clientv3 dials a per-member call on its own passthrough connection.
          target: failure.pinned
            ? `passthrough:///${failure.endpoint}`
            : `endpoint://client-${this.clientId}/${endpoints[0] ?? ''}`,
          attempt: failure.attempt,
          error: `rpc error: code = ${grpcCodeName(failure.code)} desc = ${failure.details}`,
        };
        this.io.err(`${JSON.stringify(line)}\n`);
      },
    };
    if (wantsTLS) {
      options.tls = {
        ca: read(f.cacert),
        cert: read(f.cert),
        key: read(f.key),
        insecureSkipVerify: f.insecureSkipTlsVerify,
      };
    }
    if (withAuth) {
      const auth = this.auth();
      if (auth !== undefined) {
        options.username = auth.username;
        options.password = auth.password;
      }
    }
    return options;
  }

  private auth(): { username: string; password: string } | undefined {
    const { user, password } = this.flags;
    if (user === undefined || user === '') return undefined;
    if (password !== undefined && password !== '') return { username: user, password };
    const colon = user.indexOf(':');
    if (colon < 0) {
      throw new CliError(
        ExitCode.Error,
        'password is required: pass --password or --user=name:password',
      );
    }
    return { username: user.slice(0, colon), password: user.slice(colon + 1) };
  }

  private shared: Client | undefined;

  /** The command's client over every endpoint. */
  client(): Client {
    if (this.shared === undefined) this.shared = this.newClient();
    return this.shared;
  }

  /**
   * The command's client, logged in: like clientv3.New, a client with credentials
   * authenticates before any call, and failing to is a connection error (exit 2).
   */
  async connected(): Promise<Client> {
    const c = this.client();
    if (this.flags.user !== undefined && this.flags.user !== '') {
      await c.connect().catch((err: unknown) => {
        throw new CliError(ExitCode.BadConnection, errorText(err));
      });
    }
    return c;
  }

  /** A client of its own (one endpoint for per-member commands, or another cluster). */
  newClient(
    endpoints = this.flags.endpoints,
    withAuth = true,
    tlsFlags?: Parameters<Context['clientOptions']>[2],
  ): Client {
    const c = new Client(this.clientOptions(endpoints, withAuth, tlsFlags));
    this.clients.push(c);
    return c;
  }

  /** Per-call options with the command timeout. */
  get call(): { timeout: number } {
    return { timeout: this.flags.commandTimeout };
  }

  close(): void {
    for (const c of this.clients) c.close();
    this.clients.length = 0;
    this.shared = undefined;
  }
}

/** etcdctl's rendering of an error (clientv3 errors print as etcd's text). */
export function errorText(err: unknown): string {
  if (err instanceof EtcdError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

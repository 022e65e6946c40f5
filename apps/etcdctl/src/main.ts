import { resolveSrv } from 'node:dns/promises';
import { Command, CommanderError, Option } from 'commander';
import { authCommands } from './cmd-auth.js';
import { checkCommands } from './cmd-check.js';
import { clusterCommands } from './cmd-cluster.js';
import { concurrencyCommands } from './cmd-concurrency.js';
import { kvCommands } from './cmd-kv.js';
import { leaseCommands } from './cmd-lease.js';
import { mirrorCommands } from './cmd-mirror.js';
import { snapshotCommands } from './cmd-snapshot.js';
import type { CommandSpec } from './command.js';
import { Context, errorText, type GlobalFlags } from './context.js';
import type { Output } from './display.js';
import { CliError, ExitCode } from './errors.js';
import { parseGoDuration } from './gofmt.js';

const COMMANDS: CommandSpec[] = [
  ...kvCommands,
  ...leaseCommands,
  ...clusterCommands,
  ...authCommands,
  ...snapshotCommands,
  ...concurrencyCommands,
  ...mirrorCommands,
  ...checkCommands,
];

function duration(value: string): number {
  try {
    return parseGoDuration(value);
  } catch (err) {
    throw new CommanderError(ExitCode.Error, 'etcdctl.duration', (err as Error).message);
  }
}

const bool = (value: string) => !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(value);

function globalOptions(program: Command): void {
  const opt = (flags: string, description: string, env: string) =>
    new Option(flags, description).env(`ETCDCTL_${env}`);
  program
    .addOption(
      opt('--endpoints <endpoints>', 'gRPC endpoints', 'ENDPOINTS')
        .default(['127.0.0.1:2379'])
        .argParser((v: string, prev: string[] | undefined) => {
          const list = v.split(',').map((s) => s.trim());
          return prev === undefined || (prev[0] === '127.0.0.1:2379' && prev.length === 1)
            ? list
            : [...prev, ...list];
        }),
    )
    .addOption(new Option('--debug', 'enable client-side debug logging').default(false))
    .addOption(
      opt(
        '-w, --write-out <format>',
        'set the output format (fields, json, protobuf, simple, table)',
        'WRITE_OUT',
      ).default('simple'),
    )
    .addOption(new Option('--hex', 'print byte strings as hex encoded strings').default(false))
    .addOption(
      opt('--dial-timeout <duration>', 'dial timeout for client connections', 'DIAL_TIMEOUT')
        .default(2_000)
        .argParser(duration),
    )
    .addOption(
      opt(
        '--command-timeout <duration>',
        'timeout for short running command (excluding dial timeout)',
        'COMMAND_TIMEOUT',
      )
        .default(5_000)
        .argParser(duration),
    )
    .addOption(
      opt('--keepalive-time <duration>', 'keepalive time for client connections', 'KEEPALIVE_TIME')
        .default(2_000)
        .argParser(duration),
    )
    .addOption(
      opt(
        '--keepalive-timeout <duration>',
        'keepalive timeout for client connections',
        'KEEPALIVE_TIMEOUT',
      )
        .default(6_000)
        .argParser(duration),
    )
    .addOption(
      new Option(
        '--insecure-transport',
        'disable transport security for client connections',
      ).default(true),
    )
    .addOption(new Option('--no-insecure-transport').hideHelp())
    .addOption(
      new Option(
        '--insecure-discovery',
        'accept insecure SRV records describing cluster endpoints',
      ).default(true),
    )
    .addOption(new Option('--no-insecure-discovery').hideHelp())
    .addOption(
      new Option(
        '--insecure-skip-tls-verify',
        'skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)',
      ).default(false),
    )
    .addOption(
      opt('--cert <file>', 'identify secure client using this TLS certificate file', 'CERT'),
    )
    .addOption(opt('--key <file>', 'identify secure client using this TLS key file', 'KEY'))
    .addOption(
      opt(
        '--cacert <file>',
        'verify certificates of TLS-enabled secure servers using this CA bundle',
        'CACERT',
      ),
    )
    .addOption(
      opt(
        '--user <user>',
        'username[:password] for authentication (prompt if password is not supplied)',
        'USER',
      ),
    )
    .addOption(
      opt(
        '--password <password>',
        "password for authentication (if this option is used, --user option shouldn't include password)",
        'PASSWORD',
      ),
    )
    .addOption(
      opt(
        '-d, --discovery-srv <domain>',
        'domain name to query for SRV records describing cluster endpoints',
        'DISCOVERY_SRV',
      ),
    )
    .addOption(
      opt(
        '--discovery-srv-name <name>',
        'service name to query when using DNS discovery',
        'DISCOVERY_SRV_NAME',
      ),
    );
}

/** Asks for the password (speakeasy's `Password: ` prompt), without echo on a terminal. */
async function askPassword(io: Output): Promise<string> {
  io.out('Password: ');
  const input = process.stdin;
  const tty = input.isTTY === true;
  if (tty) input.setRawMode(true);
  let line = '';
  try {
    for await (const chunk of input) {
      for (const ch of (chunk as Buffer).toString('utf8')) {
        if (ch === '\r' || ch === '\n') return line;
        if (ch === '\u0003') throw new CliError(ExitCode.Interrupted, 'interrupted');
        if (ch === '\u007f') line = line.slice(0, -1);
        else line += ch;
      }
    }
    return line;
  } finally {
    if (tty) input.setRawMode(false);
    io.out('\n');
    input.pause();
  }
}

/**
 * Endpoints from DNS SRV records (etcdctl's --discovery-srv): `_etcd-client-ssl._tcp`
 * (https) and, when insecure discovery is allowed, `_etcd-client._tcp` (http), with
 * `-<name>` appended to the service for --discovery-srv-name.
 */
async function discoverEndpoints(
  domain: string,
  name: string,
  insecure: boolean,
): Promise<string[]> {
  const suffix = name === '' ? '' : `-${name}`;
  const lookups: [string, string][] = [[`_etcd-client-ssl${suffix}._tcp.${domain}`, 'https']];
  if (insecure) lookups.push([`_etcd-client${suffix}._tcp.${domain}`, 'http']);
  const endpoints: string[] = [];
  for (const [service, scheme] of lookups) {
    try {
      for (const r of await resolveSrv(service))
        endpoints.push(`${scheme}://${r.name.replace(/\.$/, '')}:${r.port}`);
    } catch {
      // No record of this kind: try the other.
    }
  }
  if (endpoints.length === 0) {
    throw new CliError(
      ExitCode.Error,
      `error querying DNS SRV records for _etcd-client${suffix} ${domain}`,
    );
  }
  return endpoints;
}

/** Boolean flags take their ETCDCTL_* variable when not given on the command line. */
const BOOL_ENV: Record<string, string> = {
  debug: 'ETCDCTL_DEBUG',
  hex: 'ETCDCTL_HEX',
  insecureTransport: 'ETCDCTL_INSECURE_TRANSPORT',
  insecureDiscovery: 'ETCDCTL_INSECURE_DISCOVERY',
  insecureSkipTlsVerify: 'ETCDCTL_INSECURE_SKIP_TLS_VERIFY',
};

function boolEnv(cmd: Command, o: Record<string, unknown>): void {
  for (const [key, env] of Object.entries(BOOL_ENV)) {
    const value = process.env[env];
    if (value === undefined || cmd.getOptionValueSourceWithGlobals(key) !== 'default') continue;
    o[key] = bool(value);
  }
}

/**
 * pflag lets a boolean flag carry a value (`--hex=false`); commander's boolean options
 * take none. Rewrites `--flag=true` to `--flag` and `--flag=false` to `--no-flag` (or
 * drops it when false is the default anyway).
 */
export function rewriteBoolFlags(argv: string[], program: Command): string[] {
  const booleans = new Set<string>();
  const negatable = new Set<string>();
  const visit = (c: Command) => {
    for (const o of c.options) {
      if (o.long === undefined || o.required || o.optional) continue;
      if (o.negate) negatable.add(o.long.replace(/^--no-/, '--'));
      else booleans.add(o.long);
    }
    for (const sub of c.commands) visit(sub);
  };
  visit(program);
  const out: string[] = [];
  for (const arg of argv) {
    if (arg === '--') {
      out.push(...argv.slice(argv.indexOf(arg)));
      return out;
    }
    const m = /^(--[a-z-]+)=(true|false|1|0|t|f|TRUE|FALSE|True|False)$/.exec(arg);
    if (m === null || (!booleans.has(m[1]!) && !negatable.has(m[1]!))) {
      out.push(arg);
      continue;
    }
    const on = bool(m[2]!.toLowerCase().startsWith('f') ? 'false' : m[2]!);
    if (on) out.push(m[1]!);
    else if (negatable.has(m[1]!)) out.push(`--no-${m[1]!.slice(2)}`);
  }
  return out;
}

function flagsOf(o: Record<string, unknown>): GlobalFlags {
  return {
    endpoints: o.endpoints as string[],
    dialTimeout: o.dialTimeout as number,
    commandTimeout: o.commandTimeout as number,
    keepaliveTime: o.keepaliveTime as number,
    keepaliveTimeout: o.keepaliveTimeout as number,
    insecureTransport: o.insecureTransport as boolean,
    insecureDiscovery: o.insecureDiscovery as boolean,
    insecureSkipTlsVerify: o.insecureSkipTlsVerify as boolean,
    cert: o.cert as string | undefined,
    key: o.key as string | undefined,
    cacert: o.cacert as string | undefined,
    user: o.user as string | undefined,
    password: o.password as string | undefined,
    discoverySrv: o.discoverySrv as string | undefined,
    discoverySrvName: o.discoverySrvName as string | undefined,
    writeOut: o.writeOut as string,
    hex: o.hex as boolean,
    debug: o.debug as boolean,
  };
}

let stdinCache: Promise<Buffer> | undefined;
function readStdin(): Promise<Buffer> {
  stdinCache ??= (async () => {
    if (process.stdin.isTTY) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  return stdinCache;
}

const processOutput: Output = {
  out: (text) => {
    process.stdout.write(typeof text === 'string' ? text : Buffer.from(text));
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

/** Builds the command tree; `run` receives the context and runs the chosen action. */
export function buildProgram(
  argv: string[],
  io: Output,
  onContext: (ctx: Context) => void,
): Command {
  const program = new Command('etcdctl');
  program
    .description('A simple command line client for etcd3.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .helpCommand(true);
  globalOptions(program);
  const add = (parent: Command, spec: CommandSpec) => {
    const c = parent.command(spec.name).description(spec.description);
    c.exitOverride();
    if (spec.groupSetup !== undefined) spec.groupSetup(c);
    if (spec.children !== undefined) {
      for (const child of spec.children) {
        const cc = add(c, child);
        if (spec.groupSetup !== undefined) spec.groupSetup(cc);
      }
      return c;
    }
    spec.setup?.(c);
    c.argument('[args...]').allowExcessArguments(true);
    c.action(async (args: string[], _opts: Record<string, unknown>, cmd: Command) => {
      const options = cmd.optsWithGlobals() as Record<string, unknown>;
      boolEnv(cmd, options);
      const user = options.user as string | undefined;
      const password = options.password as string | undefined;
      if (user !== undefined && user !== '' && !user.includes(':') && (password ?? '') === '') {
        options.password = await askPassword(io);
      }
      if (typeof options.discoverySrv === 'string' && options.discoverySrv !== '') {
        options.endpoints = await discoverEndpoints(
          options.discoverySrv,
          (options.discoverySrvName as string | undefined) ?? '',
          options.insecureDiscovery !== false,
        );
      }
      const ctx = new Context(flagsOf(options), io, readStdin, process.stdout.isTTY === true);
      onContext(ctx);
      ctx.printDebug();
      await spec.action!(ctx, args, options, argv);
    });
    return c;
  };
  for (const spec of COMMANDS) add(program, spec);
  return program;
}

/** Runs etcdctl with `argv` (without node and the script) and exits with its code. */
export async function main(argv: string[], io: Output = processOutput): Promise<never> {
  // Node warns (on stderr) about TLS server names that are IP addresses, which is how
  // endpoints are usually given; etcdctl's stderr carries only its own messages.
  process.noDeprecation = true;
  // A reader that goes away (`etcdctl get --prefix | head -1`) ends etcdctl quietly, as
  // SIGPIPE ends the Go one.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.Success);
    throw err;
  });
  let ctx: Context | undefined;
  let code: number = ExitCode.Success;
  try {
    const program = buildProgram(argv, io, (c) => {
      ctx = c;
    });
    await program.parseAsync(rewriteBoolFlags(argv, program), { from: 'user' });
  } catch (err) {
    if (err instanceof CliError) {
      if (!err.silent) io.err(`Error: ${err.message}\n`);
      code = err.exitCode;
    } else if (err instanceof CommanderError) {
      // Help and version print and succeed; parse errors are etcdctl's usage errors.
      code = err.exitCode === 0 ? ExitCode.Success : ExitCode.Error;
    } else {
      io.err(`Error: ${errorText(err)}\n`);
      code = ExitCode.Error;
    }
  } finally {
    ctx?.close();
  }
  process.exit(code);
}

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { etcdserverpb } from '@etcd-ts/api';
import {
  type Compare,
  type CompareOperator,
  compare,
  ErrCompacted,
  type Op,
  op,
} from '@etcd-ts/client3';
import type { Command } from 'commander';
import { argify, type CommandSpec, leaf, parseInt64 } from './command.js';
import type { Context } from './context.js';
import { CliError, ExitCode, fail } from './errors.js';
import { goQuote } from './gofmt.js';

// --- get / put / del, shared with txn's request lines ---

interface GetFlags {
  consistency: string;
  order: string;
  sortBy: string;
  limit: number;
  prefix: boolean;
  fromKey: boolean;
  rev: number;
  keysOnly: boolean;
  printValueOnly: boolean;
}

const SORT_TARGETS: Record<string, etcdserverpb.RangeRequest_SortTarget> = {
  CREATE: etcdserverpb.RangeRequest_SortTarget.CREATE,
  KEY: etcdserverpb.RangeRequest_SortTarget.KEY,
  MODIFY: etcdserverpb.RangeRequest_SortTarget.MOD,
  VALUE: etcdserverpb.RangeRequest_SortTarget.VALUE,
  VERSION: etcdserverpb.RangeRequest_SortTarget.VERSION,
};

/** The key and the optional range end of get/del (too many with --prefix/--from-key). */
function keyOperands(
  args: string[],
  f: { prefix: boolean; fromKey: boolean },
): { key: Buffer; rangeEnd: Uint8Array | undefined } {
  if (args.length > 1 && (f.prefix || f.fromKey)) {
    fail(
      ExitCode.BadArgs,
      'too many arguments, only accept one argument when `--prefix` or `--from-key` is set',
    );
  }
  return {
    key: Buffer.from(args[0]!),
    rangeEnd: args.length > 1 ? Buffer.from(args[1]!) : undefined,
  };
}

/**
 * What --prefix and --from-key make of the key (etcdctl's rules: an empty key with
 * --prefix means every key, as --from-key does).
 */
function keyRange(
  { key, rangeEnd }: { key: Buffer; rangeEnd: Uint8Array | undefined },
  f: { prefix: boolean; fromKey: boolean },
): { key: Buffer; rangeEnd: Uint8Array | undefined; prefix: boolean } {
  const all = Buffer.from([0]);
  if (f.prefix) {
    return key.length === 0
      ? { key: all, rangeEnd: all, prefix: false }
      : { key, rangeEnd: undefined, prefix: true };
  }
  if (f.fromKey) return { key: key.length === 0 ? all : key, rangeEnd: all, prefix: false };
  return { key, rangeEnd, prefix: false };
}

/** etcdctl's `get` arguments as a range request (getGetOp). */
export function getOp(args: string[], f: GetFlags): Op {
  if (args.length === 0) {
    fail(
      ExitCode.BadArgs,
      'get command needs one argument as key and an optional argument as range_end',
    );
  }
  if (f.prefix && f.fromKey) {
    fail(
      ExitCode.BadArgs,
      '`--prefix` and `--from-key` cannot be set at the same time, choose one',
    );
  }
  let serializable = false;
  if (f.consistency === 's') serializable = true;
  else if (f.consistency !== 'l') {
    fail(ExitCode.BadFeature, `unknown consistency flag ${goQuote(f.consistency)}`);
  }
  const operands = keyOperands(args, f);
  let sortOrder = etcdserverpb.RangeRequest_SortOrder.NONE;
  const order = f.order.toUpperCase();
  if (order === 'ASCEND') sortOrder = etcdserverpb.RangeRequest_SortOrder.ASCEND;
  else if (order === 'DESCEND') sortOrder = etcdserverpb.RangeRequest_SortOrder.DESCEND;
  else if (order !== '') fail(ExitCode.BadFeature, `bad sort order ${f.order}`);
  const targetName = f.sortBy.toUpperCase();
  let sortTarget = etcdserverpb.RangeRequest_SortTarget.KEY;
  if (targetName !== '') {
    const t = SORT_TARGETS[targetName];
    if (t === undefined) fail(ExitCode.BadFeature, `bad sort target ${f.sortBy}`);
    sortTarget = t;
  }
  // clientv3.WithSort: sorting by key ascending is the server's order already.
  if (
    sortTarget === etcdserverpb.RangeRequest_SortTarget.KEY &&
    sortOrder === etcdserverpb.RangeRequest_SortOrder.ASCEND
  ) {
    sortOrder = etcdserverpb.RangeRequest_SortOrder.NONE;
  }
  const { key, rangeEnd, prefix } = keyRange(operands, f);
  const base = op.get(key, {
    prefix,
    rangeEnd,
    limit: f.limit,
    revision: Math.max(f.rev, 0),
    keysOnly: f.keysOnly,
    serializable,
  }) as Extract<Op, { type: 'range' }>;
  return { type: 'range', request: { ...base.request, sortOrder, sortTarget } };
}

interface PutFlags {
  lease: string;
  prevKv: boolean;
  ignoreValue: boolean;
  ignoreLease: boolean;
}

export function putOp(args: string[], value: string | undefined, f: PutFlags): Op {
  const needs = 'put command needs 1 argument and input from stdin or 2 arguments';
  if (args.length === 0) fail(ExitCode.BadArgs, needs);
  if (f.ignoreValue && args.length > 1) {
    fail(ExitCode.BadArgs, "put command needs only 1 argument when 'ignore-value' is set");
  }
  let v = '';
  if (!f.ignoreValue) {
    if (args.length > 1) v = args[1]!;
    else if (value !== undefined && value !== '') v = value;
    else fail(ExitCode.BadArgs, needs);
  }
  const lease = parseHexInt64(f.lease, (e) => `bad lease ID (${e}), expecting ID in Hex`);
  return op.put(args[0]!, v, {
    lease: BigInt.asUintN(64, lease),
    prevKv: f.prevKv,
    ignoreValue: f.ignoreValue,
    ignoreLease: f.ignoreLease,
  });
}

interface DelFlags {
  prefix: boolean;
  prevKv: boolean;
  fromKey: boolean;
}

export function delOp(args: string[], f: DelFlags): Op {
  if (args.length === 0 || args.length > 2) {
    fail(
      ExitCode.BadArgs,
      'del command needs one argument as key and an optional argument as range_end',
    );
  }
  if (f.prefix && f.fromKey) {
    fail(
      ExitCode.BadArgs,
      '`--prefix` and `--from-key` cannot be set at the same time, choose one',
    );
  }
  const operands = keyOperands(args, f);
  const { key, rangeEnd, prefix } = keyRange(operands, f);
  return op.delete(key, { prefix, rangeEnd, prevKv: f.prevKv });
}

/** strconv.ParseInt(s, 16, 64) with Go's error text. */
export function parseHexInt64(s: string, message: (err: string) => string): bigint {
  const fn = 'strconv.ParseInt';
  if (!/^[+-]?[0-9a-fA-F]+$/.test(s)) {
    fail(ExitCode.BadArgs, message(`${fn}: parsing ${goQuote(s)}: invalid syntax`));
  }
  const neg = s.startsWith('-');
  const v = BigInt(`0x${s.replace(/^[+-]/, '')}`) * (neg ? -1n : 1n);
  if (v > 0x7fff_ffff_ffff_ffffn || v < -0x8000_0000_0000_0000n) {
    fail(ExitCode.BadArgs, message(`${fn}: parsing ${goQuote(s)}: value out of range`));
  }
  return v;
}

const getSpec = (c: Command) =>
  c
    .option('--consistency <l|s>', 'Linearizable(l) or Serializable(s)', 'l')
    .option('--order <order>', 'Order of results; ASCEND or DESCEND (ASCEND by default)', '')
    .option('--sort-by <target>', 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION', '')
    .option('--limit <n>', 'Maximum number of results', parseInt64, 0)
    .option('--prefix', 'Get keys with matching prefix', false)
    .option(
      '--from-key',
      'Get keys that are greater than or equal to the given key using byte compare',
      false,
    )
    .option('--rev <n>', 'Specify the kv revision', parseInt64, 0)
    .option('--keys-only', 'Get only the keys', false)
    .option('--print-value-only', 'Only write values when using the "simple" output format', false);

const putSpec = (c: Command) =>
  c
    .option('--lease <id>', 'lease ID (in hexadecimal) to attach to the key', '0')
    .option('--prev-kv', 'return the previous key-value pair before modification', false)
    .option('--ignore-value', 'updates the key using its current value', false)
    .option('--ignore-lease', 'updates the key using its current lease', false);

const delSpec = (c: Command) =>
  c
    .option('--prefix', 'delete keys with matching prefix', false)
    .option('--prev-kv', 'return deleted key-value pairs', false)
    .option(
      '--from-key',
      'delete keys that are greater than or equal to the given key using byte compare',
      false,
    );

// --- txn ---

function parseCompare(line: string): Compare {
  const paren = line.indexOf('(');
  if (paren < 0) throw new CliError(ExitCode.InvalidInput, `malformed comparison: ${line}`);
  const target = line.slice(0, paren);
  const m = /^\s*("(?:[^"\\]|\\.)*"|\S+)\)\s+(\S+)\s+("(?:[^"\\]|\\.)*"|\S+)/.exec(
    line.slice(paren + 1),
  );
  const unq = (s: string) => (s.startsWith('"') ? (JSON.parse(s) as string) : s);
  if (m === null) {
    throw new CliError(
      ExitCode.InvalidInput,
      `malformed comparison: ${line}; got ${target}("") "" ""`,
    );
  }
  const key = unq(m[1]!);
  const operator = m[2]! as CompareOperator;
  const val = unq(m[3]!);
  if (!['=', '!=', '>', '<'].includes(operator)) {
    throw new CliError(ExitCode.InvalidInput, `Unknown compare type ${operator}`);
  }
  const int = () => {
    if (!/^[+-]?\d+$/.test(val))
      throw new CliError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
    return Number(val);
  };
  switch (target) {
    case 'ver':
    case 'version':
      return compare.version(key, operator, int());
    case 'c':
    case 'create':
      return compare.createRevision(key, operator, int());
    case 'm':
    case 'mod':
      return compare.modRevision(key, operator, int());
    case 'val':
    case 'value':
      return compare.value(key, operator, val);
    case 'lease':
      return compare.lease(
        key,
        operator,
        BigInt.asUintN(
          64,
          parseHexInt64(val, () => `invalid txn compare request: ${line}`),
        ),
      );
    default:
      throw new CliError(
        ExitCode.InvalidInput,
        `malformed comparison: ${line} (unknown target ${target})`,
      );
  }
}

function parseRequest(line: string): Op {
  const args = argify(line);
  if (args.length < 2)
    throw new CliError(ExitCode.InvalidInput, `invalid txn compare request: ${line}`);
  const invalid = () => new CliError(ExitCode.InvalidInput, `invalid txn request: ${line}`);
  const [verb, ...rest] = args;
  const { positional, flags } = splitFlags(rest);
  try {
    switch (verb) {
      case 'put':
        return putOp(positional, undefined, {
          lease: String(flags.lease ?? '0'),
          prevKv: flags['prev-kv'] === true,
          ignoreValue: flags['ignore-value'] === true,
          ignoreLease: flags['ignore-lease'] === true,
        });
      case 'get':
        return getOp(positional, {
          consistency: String(flags.consistency ?? 'l'),
          order: String(flags.order ?? ''),
          sortBy: String(flags['sort-by'] ?? ''),
          limit: Number(flags.limit ?? 0),
          prefix: flags.prefix === true,
          fromKey: flags['from-key'] === true,
          rev: Number(flags.rev ?? 0),
          keysOnly: flags['keys-only'] === true,
          printValueOnly: false,
        });
      case 'del':
        return delOp(positional, {
          prefix: flags.prefix === true,
          prevKv: flags['prev-kv'] === true,
          fromKey: flags['from-key'] === true,
        });
      default:
        throw invalid();
    }
  } catch (err) {
    if (err instanceof CliError && err.exitCode === ExitCode.InvalidInput) throw err;
    throw invalid();
  }
}

const VALUE_FLAGS = new Set(['lease', 'consistency', 'order', 'sort-by', 'limit', 'rev']);

/** Splits `--flag`, `--flag=v`, `--flag v` from positional arguments (pflag style). */
function splitFlags(args: string[]): {
  positional: string[];
  flags: Record<string, string | boolean>;
} {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) flags[name] = a.slice(eq + 1);
      else if (VALUE_FLAGS.has(name)) flags[name] = args[++i] ?? '';
      else flags[name] = true;
      continue;
    }
    positional.push(a);
  }
  return { positional, flags };
}

/** Reads the txn's three blocks (compares, success ops, failure ops) from stdin lines. */
async function readTxn(
  ctx: Context,
  interactive: boolean,
): Promise<{ compares: Compare[]; success: Op[]; failure: Op[] }> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const nextLine = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new CliError(ExitCode.InvalidInput, 'EOF');
    return r.value;
  };
  const block = async <T>(parse: (l: string) => T): Promise<T[]> => {
    const out: T[] = [];
    for (;;) {
      const line = (await nextLine()).trim();
      if (line === '') return out;
      out.push(parse(line));
    }
  };
  const prompt = (s: string) => {
    if (interactive) ctx.io.out(`${s}\n`);
  };
  try {
    prompt('compares:');
    const compares = await block(parseCompare);
    prompt('success requests (get, put, del):');
    const success = await block(parseRequest);
    prompt('failure requests (get, put, del):');
    const failure = await block(parseRequest);
    return { compares, success, failure };
  } finally {
    rl.close();
  }
}

// --- watch ---

interface WatchFlags {
  interactive: boolean;
  prefix: boolean;
  rev: number;
  prevKv: boolean;
}

async function runWatch(
  ctx: Context,
  key: string,
  rangeEnd: string | undefined,
  f: WatchFlags,
  exec: string[],
) {
  if (rangeEnd !== undefined && f.prefix) {
    throw new CliError(ExitCode.BadArgs, '`range_end` and `--prefix` are mutually exclusive');
  }
  const client = await ctx.connected();
  const watcher = client.watch(key, {
    prefix: f.prefix,
    rangeEnd,
    startRevision: f.rev,
    prevKv: f.prevKv,
  });
  try {
    for await (const resp of watcher) {
      if (resp.progressNotify) ctx.io.out(`progress notify: ${resp.header.revision}\n`);
      ctx.display.watch(resp.header, resp.events);
      for (const ev of resp.events) {
        if (exec.length === 0) continue;
        const code = await new Promise<number | null>((resolve) => {
          const child = spawn(exec[0]!, exec.slice(1), {
            stdio: 'inherit',
            env: {
              ...process.env,
              ETCD_WATCH_REVISION: String(resp.header.revision),
              ETCD_WATCH_EVENT_TYPE: goQuote(ev.type === 0 ? 'PUT' : 'DELETE'),
              ETCD_WATCH_KEY: goQuote(ev.kv?.key ?? new Uint8Array(0)),
              ETCD_WATCH_VALUE: goQuote(ev.kv?.value ?? new Uint8Array(0)),
            },
          });
          child.on('error', () => resolve(-1));
          child.on('exit', (c) => resolve(c));
        });
        if (code !== 0) {
          ctx.io.err(`command [${exec.join(' ')}] error (exit status ${code})\n`);
          throw new CliError(ExitCode.Error, '', true);
        }
      }
    }
  } catch (err) {
    if (err instanceof ErrCompacted) {
      ctx.io.err(`watch was canceled (${err.message})\n`);
    } else throw err;
  }
  throw new CliError(ExitCode.Interrupted, 'watch is canceled by the server');
}

/** The arguments after `watch` on the raw command line, split at `--` (parseWatchArgs). */
function watchArgs(
  rawArgs: string[],
  positional: string[],
  envKey: string,
  envRange: string,
): { watch: string[]; exec: string[] } {
  const idx = rawArgs.indexOf('watch');
  const after = idx >= 0 ? rawArgs.slice(idx + 1) : [];
  const sep = after.indexOf('--');
  if (sep >= 0 && sep === after.length - 1) {
    fail(ExitCode.BadArgs, 'bad number of arguments (found separator --, but no commands)');
  }
  if (sep < 0 && after.length < 1 && envKey === '')
    fail(ExitCode.BadArgs, 'bad number of arguments');
  if (sep < 0 && positional.length > 0 && envKey !== '') {
    fail(ExitCode.BadArgs, 'bad number of arguments (found conflicting environment key)');
  }
  const exec = sep >= 0 ? after.slice(sep + 1) : [];
  let watch = [...positional];
  // commander hands over the words after `--` as positionals too: drop them.
  if (exec.length > 0) watch = watch.slice(0, watch.length - exec.length);
  if (envKey !== '') watch = [envKey, ...(envRange !== '' ? [envRange] : []), ...watch];
  return { watch, exec };
}

async function watchInteractive(ctx: Context, envKey: string, envRange: string): Promise<void> {
  const client = await ctx.connected();
  const rl = createInterface({ input: process.stdin, terminal: false });
  const running: Promise<unknown>[] = [];
  for await (const l of rl) {
    const args = argify(l);
    if (args.length < 1) {
      ctx.io.err(`Invalid command: ${l} (watch and progress supported)\n`);
      continue;
    }
    if (args[0] === 'progress') {
      client.requestProgress();
      continue;
    }
    if (args[0] !== 'watch') {
      ctx.io.err(`Invalid command ${l} (only support watch)\n`);
      continue;
    }
    if (args.length < 2 && envKey === '') {
      ctx.io.err(`Invalid command ${l} (command type or key is not provided)\n`);
      continue;
    }
    const rest = args.slice(1);
    const sep = rest.indexOf('--');
    if (sep >= 0 && sep === rest.length - 1) {
      throw new CliError(
        ExitCode.BadArgs,
        'bad number of arguments (found separator --, but no commands)',
      );
    }
    const exec = sep >= 0 ? rest.slice(sep + 1) : [];
    const { positional, flags } = splitFlags(sep >= 0 ? rest.slice(0, sep) : rest);
    const keys =
      envKey !== '' ? [envKey, ...(envRange !== '' ? [envRange] : []), ...positional] : positional;
    if (keys.length < 1) throw new CliError(ExitCode.BadArgs, 'bad number of arguments');
    running.push(
      runWatch(
        ctx,
        keys[0]!,
        keys[1],
        {
          interactive: true,
          prefix: flags.prefix === true,
          rev: Number(flags.rev ?? 0),
          prevKv: flags['prev-kv'] === true,
        },
        exec,
      ).catch((err) => {
        ctx.io.err(`Invalid command ${l} (${err instanceof Error ? err.message : String(err)})\n`);
      }),
    );
  }
  throw new CliError(ExitCode.InvalidInput, 'Error reading watch request line: EOF');
}

export const kvCommands: CommandSpec[] = [
  leaf('get', 'Gets the key or a range of keys', getSpec, async (ctx, args, o) => {
    const flags = o as unknown as GetFlags;
    const request = getOp(args, flags) as Extract<Op, { type: 'range' }>;
    const resp = await (await ctx.connected()).range(request.request, ctx.call);
    if (flags.printValueOnly) {
      if (ctx.display.format !== 'simple') {
        fail(ExitCode.BadArgs, 'print-value-only is only for `--write-out=simple`');
      }
      ctx.display.valueOnly = true;
    }
    ctx.display.get(resp);
  }),
  leaf('put', 'Puts the given key into the store', putSpec, async (ctx, args, o) => {
    const flags = o as unknown as PutFlags;
    const stdin =
      args.length === 1 && !flags.ignoreValue ? (await ctx.stdin()).toString('utf8') : undefined;
    const request = putOp(args, stdin, flags);
    const resp = await (await ctx.connected()).do(request, ctx.call);
    ctx.display.put(resp.responsePut!);
  }),
  leaf(
    'del',
    'Removes the specified key or range of keys [key, range_end)',
    delSpec,
    async (ctx, args, o) => {
      const request = delOp(args, o as unknown as DelFlags);
      const resp = await (await ctx.connected()).do(request, ctx.call);
      ctx.display.del(resp.responseDeleteRange!);
    },
  ),
  leaf(
    'txn',
    'Txn processes all the requests in one transaction',
    (c) => c.option('-i, --interactive', 'Input transaction in interactive mode', false),
    async (ctx, args, o) => {
      if (args.length !== 0) fail(ExitCode.BadArgs, 'txn command does not accept argument');
      const { compares, success, failure } = await readTxn(ctx, o.interactive === true);
      const resp = await ctx
        .client()
        .txn()
        .if(...compares)
        .then(...success)
        .else(...failure)
        .commit();
      ctx.display.txn(resp);
    },
  ),
  leaf(
    'compaction',
    'Compacts the event history in etcd',
    (c) =>
      c.option(
        '--physical',
        "'true' to wait for compaction to physically remove all old revisions",
        false,
      ),
    async (ctx, args, o) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'compaction command needs 1 argument');
      if (!/^[+-]?\d+$/.test(args[0]!)) {
        fail(ExitCode.Error, `strconv.ParseInt: parsing ${goQuote(args[0]!)}: invalid syntax`);
      }
      const rev = Number(args[0]);
      await (await ctx.connected()).compact(rev, { physical: o.physical === true, ...ctx.call });
      ctx.io.out(`compacted revision ${rev}\n`);
    },
  ),
  leaf(
    'watch',
    'Watches events stream on keys or prefixes',
    (c) =>
      c
        .option('-i, --interactive', 'Interactive mode', false)
        .option('--prefix', 'Watch on a prefix if prefix is set', false)
        .option('--rev <n>', 'Revision to start watching', parseInt64, 0)
        .option('--prev-kv', 'get the previous key-value pair before the event happens', false),
    async (ctx, args, o, raw) => {
      const envKey = process.env.ETCDCTL_WATCH_KEY ?? '';
      const envRange = process.env.ETCDCTL_WATCH_RANGE_END ?? '';
      if (envKey === '' && envRange !== '') {
        fail(
          ExitCode.BadArgs,
          `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envRange)}`,
        );
      }
      const flags = o as unknown as WatchFlags;
      if (flags.interactive) {
        await watchInteractive(ctx, envKey, envRange);
        return;
      }
      const { watch, exec } = watchArgs(raw, args, envKey, envRange);
      if (watch.length < 1) fail(ExitCode.BadArgs, 'bad number of arguments');
      await runWatch(ctx, watch[0]!, watch[1], flags, exec);
    },
  ),
];

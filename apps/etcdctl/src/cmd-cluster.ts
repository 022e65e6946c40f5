import { spawn } from 'node:child_process';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrPermissionDenied } from '@etcd-ts/client3';
import { BoltReader, bucketsOf, writeBoltFile } from './boltfile.js';
import { type CommandSpec, group, leaf, parseInt64 } from './command.js';
import type { Context } from './context.js';
import { errorText } from './context.js';
import type { EndpointHashKV, EndpointHealth, EndpointStatus } from './display.js';
import { CliError, ExitCode, fail } from './errors.js';
import { goDuration, goQuote } from './gofmt.js';

/** The API version etcdctl reports: the etcd release whose CLI this is. */
export const ETCDCTL_VERSION = '3.5.21';
export const API_VERSION = '3.5';

/** A member id argument: uint64 in hex. */
function memberArg(arg: string): bigint {
  if (!/^[0-9a-fA-F]+$/.test(arg)) {
    fail(
      ExitCode.BadArgs,
      `bad member ID arg (strconv.ParseUint: parsing ${goQuote(arg)}: invalid syntax), expecting ID in Hex`,
    );
  }
  const v = BigInt(`0x${arg}`);
  if (v > 0xffff_ffff_ffff_ffffn) {
    fail(
      ExitCode.BadArgs,
      `bad member ID arg (strconv.ParseUint: parsing ${goQuote(arg)}: value out of range), expecting ID in Hex`,
    );
  }
  return v;
}

/** The endpoints a per-member command visits: the flags', or with --cluster every member's. */
async function endpointsOf(ctx: Context, cluster: boolean): Promise<string[]> {
  if (!cluster) return ctx.flags.endpoints;
  const c = ctx.newClient(ctx.flags.endpoints, false);
  const resp = await c.cluster
    .memberList(ctx.call)
    .catch((err: unknown) =>
      fail(
        ExitCode.Error,
        `failed to fetch endpoints from etcd cluster member list: ${errorText(err)}`,
      ),
    );
  return resp.members.flatMap((m) => m.clientURLs);
}

/**
 * Offline defragmentation of a member's backend (defrag --data-dir): the db is copied
 * into a fresh, compact bbolt file that replaces it. bbolt holds an exclusive flock on
 * an open db, so this waits (like etcdctl) until no etcd has it open.
 */
async function defragDataDir(ctx: Context, dataDir: string): Promise<void> {
  const dbPath = join(dataDir, 'member', 'snap', 'db');
  const locked = (wait: boolean) =>
    new Promise<boolean>((resolve) => {
      const p = spawn('flock', [wait ? '-x' : '-xn', dbPath, 'true'], { stdio: 'ignore' });
      p.on('error', () => resolve(false));
      p.on('exit', (code) => resolve(code !== 0));
    });
  if (await locked(false)) {
    ctx.io.err(
      `waiting for etcd to close and release its lock on ${goQuote(dbPath)}. To defrag a running etcd instance, omit --data-dir.\n`,
    );
    await locked(true);
  }
  const source = BoltReader.open(dbPath);
  const tmp = `${dbPath}.defrag`;
  try {
    writeBoltFile(tmp, bucketsOf(source), source.pageSize);
  } finally {
    source.close();
  }
  await rename(tmp, dbPath);
}

const clusterFlag = (c: import('commander').Command) =>
  c.option('--cluster', 'use all endpoints from the cluster member list', false);

export const clusterCommands: CommandSpec[] = [
  group('member', 'Membership related commands', [
    leaf(
      'add',
      'Adds a member into the cluster',
      (c) =>
        c
          .option('--peer-urls <urls>', 'comma separated peer URLs for the new member.', '')
          .option('--learner', 'indicates if the new member is raft learner', false),
      async (ctx, args, o) => {
        if (args.length < 1) fail(ExitCode.BadArgs, 'member name not provided');
        if (args.length > 1) {
          let ev = 'too many arguments';
          for (const s of args) {
            if (s.toLowerCase().startsWith('http')) ev += `, did you mean --peer-urls=${s}`;
          }
          fail(ExitCode.BadArgs, ev);
        }
        const name = args[0]!;
        const peerURLs = String(o.peerUrls ?? '');
        if (peerURLs.length === 0) fail(ExitCode.BadArgs, 'member peer urls not provided');
        const urls = peerURLs.split(',');
        const resp = await (await ctx.connected()).cluster.memberAdd(urls, {
          isLearner: o.learner === true,
          ...ctx.call,
        });
        ctx.display.memberAdd(resp);
        if (ctx.display.format === 'simple') {
          const newID = resp.member?.ID;
          const conf: string[] = [];
          for (const m of resp.members) {
            for (const u of m.peerURLs) conf.push(`${m.ID === newID ? name : m.name}=${u}`);
          }
          ctx.io.out('\n');
          ctx.io.out(`ETCD_NAME=${goQuote(name)}\n`);
          ctx.io.out(`ETCD_INITIAL_CLUSTER=${goQuote(conf.join(','))}\n`);
          ctx.io.out(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerURLs)}\n`);
          ctx.io.out('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
        }
      },
    ),
    leaf('remove', 'Removes a member from the cluster', undefined, async (ctx, args) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'member ID is not provided');
      const id = memberArg(args[0]!);
      const resp = await (await ctx.connected()).cluster.memberRemove(id, ctx.call);
      ctx.display.memberRemove(id, resp);
    }),
    leaf(
      'update',
      'Updates a member in the cluster',
      (c) =>
        c.option('--peer-urls <urls>', 'comma separated peer URLs for the updated member.', ''),
      async (ctx, args, o) => {
        if (args.length !== 1) fail(ExitCode.BadArgs, 'member ID is not provided');
        const id = memberArg(args[0]!);
        const peerURLs = String(o.peerUrls ?? '');
        if (peerURLs.length === 0) fail(ExitCode.BadArgs, 'member peer urls not provided');
        const resp = await (await ctx.connected()).cluster.memberUpdate(
          id,
          peerURLs.split(','),
          ctx.call,
        );
        ctx.display.memberUpdate(id, resp);
      },
    ),
    leaf('list', 'Lists all members in the cluster', undefined, async (ctx) => {
      const resp = await (await ctx.connected()).cluster.memberList(ctx.call);
      ctx.display.memberList(resp);
    }),
    leaf('promote', 'Promotes a non-voting member in the cluster', undefined, async (ctx, args) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'member ID is not provided');
      const id = memberArg(args[0]!);
      const resp = await (await ctx.connected()).cluster.memberPromote(id, ctx.call);
      ctx.display.memberPromote(id, resp);
    }),
  ]),
  group(
    'endpoint',
    'Endpoint related commands',
    [
      leaf(
        'health',
        'Checks the healthiness of endpoints specified in `--endpoints` flag',
        undefined,
        async (ctx, _args, o) => {
          const eps = await endpointsOf(ctx, o.cluster === true);
          const list: EndpointHealth[] = await Promise.all(
            eps.map(async (ep) => {
              const c = ctx.newClient([ep]);
              const started = process.hrtime.bigint();
              try {
                await c.get('health', ctx.call);
                return {
                  ep,
                  health: true,
                  took: goDuration(Number(process.hrtime.bigint() - started)),
                  error: '',
                };
              } catch (err) {
                const took = goDuration(Number(process.hrtime.bigint() - started));
                if (err instanceof ErrPermissionDenied)
                  return { ep, health: true, took, error: '' };
                return { ep, health: false, took, error: errorText(err) };
              }
            }),
          );
          ctx.display.endpointHealth(list);
          if (list.some((h) => h.error !== '')) fail(ExitCode.Error, 'unhealthy cluster');
        },
      ),
      leaf(
        'status',
        'Prints out the status of endpoints specified in `--endpoints` flag',
        undefined,
        async (ctx, _args, o) => {
          const eps = await endpointsOf(ctx, o.cluster === true);
          const c = ctx.newClient(eps);
          const list: EndpointStatus[] = [];
          let failed = false;
          for (const ep of eps) {
            try {
              list.push({ ep, resp: await c.maintenance.status({ endpoint: ep, ...ctx.call }) });
            } catch (err) {
              failed = true;
              ctx.io.err(`Failed to get the status of endpoint ${ep} (${errorText(err)})\n`);
            }
          }
          ctx.display.endpointStatus(list);
          if (failed) throw new CliError(ExitCode.Error, '', true);
        },
      ),
      leaf(
        'hashkv',
        'Prints the KV history hash for each endpoint in --endpoints',
        (c) =>
          c.option('--rev <n>', 'maximum revision to hash (default: all revisions)', parseInt64, 0),
        async (ctx, _args, o) => {
          const eps = await endpointsOf(ctx, o.cluster === true);
          const c = ctx.newClient(eps);
          const list: EndpointHashKV[] = [];
          let last: unknown;
          for (const ep of eps) {
            try {
              list.push({
                ep,
                resp: await c.maintenance.hashKV(Number(o.rev ?? 0), { endpoint: ep, ...ctx.call }),
              });
            } catch (err) {
              last = err;
              ctx.io.err(`Failed to get the hash of endpoint ${ep} (${errorText(err)})\n`);
            }
          }
          ctx.display.endpointHashKV(list);
          if (last !== undefined) fail(ExitCode.Error, errorText(last));
        },
      ),
    ],
    clusterFlag,
  ),
  group('alarm', 'Alarm related commands', [
    leaf('disarm', 'Disarms all alarms', undefined, async (ctx, args) => {
      if (args.length !== 0) fail(ExitCode.BadArgs, 'alarm disarm command accepts no arguments');
      ctx.display.alarm(await (await ctx.connected()).maintenance.alarmDisarm(undefined, ctx.call));
    }),
    leaf('list', 'Lists all alarms', undefined, async (ctx, args) => {
      if (args.length !== 0) fail(ExitCode.BadArgs, 'alarm list command accepts no arguments');
      ctx.display.alarm(await (await ctx.connected()).maintenance.alarmList(ctx.call));
    }),
  ]),
  leaf(
    'defrag',
    'Defragments the storage of the etcd members with given endpoints',
    (c) =>
      clusterFlag(c).option(
        '--data-dir <dir>',
        'Optional. If present, defragments a data directory not in use by etcd.',
      ),
    async (ctx, _args, o) => {
      if (o.dataDir !== undefined) {
        try {
          await defragDataDir(ctx, String(o.dataDir));
        } catch (err) {
          ctx.io.err(`Failed to defragment etcd data[${String(o.dataDir)}] (${errorText(err)})\n`);
          throw new CliError(ExitCode.Error, '', true);
        }
        return;
      }
      const eps = await endpointsOf(ctx, o.cluster === true);
      const c = ctx.newClient(eps);
      let failures = 0;
      for (const ep of eps) {
        try {
          await c.maintenance.defragment({ endpoint: ep, ...ctx.call });
          ctx.io.out(`Finished defragmenting etcd member[${ep}]\n`);
        } catch (err) {
          ctx.io.err(`Failed to defragment etcd member[${ep}] (${errorText(err)})\n`);
          failures++;
        }
      }
      if (failures !== 0) throw new CliError(ExitCode.Error, '', true);
    },
  ),
  leaf(
    'move-leader',
    'Transfers leadership to another etcd cluster member.',
    undefined,
    async (ctx, args) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'move-leader command needs 1 argument');
      const arg = args[0]!;
      if (!/^[0-9a-fA-F]+$/.test(arg)) {
        fail(ExitCode.BadArgs, `strconv.ParseUint: parsing ${goQuote(arg)}: invalid syntax`);
      }
      const target = BigInt(`0x${arg}`);
      const eps = ctx.flags.endpoints;
      for (const ep of eps) {
        const c = ctx.newClient([ep]);
        const status = await c.maintenance.status({ endpoint: ep, ...ctx.call });
        if (status.header?.memberId === status.leader) {
          const resp = await c.maintenance.moveLeader(target, ctx.call);
          ctx.display.moveLeader(status.leader, target, resp);
          return;
        }
      }
      fail(ExitCode.BadArgs, `no leader endpoint given at [${eps.join(' ')}]`);
    },
  ),
  leaf('version', 'Prints the version of etcdctl', undefined, async (ctx) => {
    ctx.io.out(`etcdctl version: ${ETCDCTL_VERSION}\n`);
    ctx.io.out(`API version: ${API_VERSION}\n`);
  }),
  leaf(
    'downgrade',
    'Downgrade related commands (validate, enable or cancel a downgrade to <TARGET_VERSION>)',
    undefined,
    async (ctx, args) => {
      const [action, version] = args;
      if (action !== 'validate' && action !== 'enable' && action !== 'cancel') {
        fail(ExitCode.BadArgs, 'downgrade command needs an action: validate, enable or cancel');
      }
      if (action !== 'cancel' && (version === undefined || args.length !== 2)) {
        fail(ExitCode.BadArgs, `downgrade ${action} command needs 1 argument`);
      }
      const resp = await (await ctx.connected()).maintenance.downgrade(
        action,
        version ?? '',
        ctx.call,
      );
      const verbs = {
        validate: 'Downgrade validate success',
        enable: 'Downgrade enable success',
        cancel: 'Downgrade cancel success',
      };
      ctx.io.out(`${verbs[action]}, cluster version ${resp.version}\n`);
    },
  ),
];

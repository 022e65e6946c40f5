import { ErrKeepAliveHalted, ErrLeaseNotFound } from '@etcd-ts/client3';
import { parseHexInt64 } from './cmd-kv.js';
import { type CommandSpec, group, leaf } from './command.js';
import { errorText } from './context.js';
import { CliError, ExitCode, fail } from './errors.js';
import { goQuote, hexID } from './gofmt.js';

/** A lease id argument: int64 in hex (leaseFromArgs). */
function leaseArg(arg: string): bigint {
  return BigInt.asUintN(
    64,
    parseHexInt64(arg, (e) => `bad lease ID arg (${e}), expecting ID in Hex`),
  );
}

export const leaseCommands: CommandSpec[] = [
  group('lease', 'Lease related commands', [
    leaf('grant', 'Creates leases', undefined, async (ctx, args) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'lease grant command needs TTL argument');
      if (!/^[+-]?\d+$/.test(args[0]!)) {
        fail(
          ExitCode.BadArgs,
          `bad TTL (strconv.ParseInt: parsing ${goQuote(args[0]!)}: invalid syntax)`,
        );
      }
      const resp = await ctx
        .client()
        .lease.grant(Number(args[0]), ctx.call)
        .catch((err: unknown) => fail(ExitCode.Error, `failed to grant lease (${errorText(err)})`));
      ctx.display.grant(resp);
    }),
    leaf('revoke', 'Revokes leases', undefined, async (ctx, args) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'lease revoke command needs 1 argument');
      const id = leaseArg(args[0]!);
      const resp = await ctx
        .client()
        .lease.revoke(id, ctx.call)
        .catch((err: unknown) =>
          fail(ExitCode.Error, `failed to revoke lease (${errorText(err)})`),
        );
      ctx.display.revoke(id, resp);
    }),
    leaf(
      'timetolive',
      'Get lease information',
      (c) => c.option('--keys', 'Get keys attached to this lease', false),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'lease timetolive command needs lease ID as argument');
        const keys = o.keys === true;
        const resp = await ctx
          .client()
          .lease.timeToLive(leaseArg(args[0]!), { keys })
          .catch((err: unknown) => fail(ExitCode.BadConnection, errorText(err)));
        ctx.display.timeToLive(resp, keys);
      },
    ),
    leaf('list', 'List all active leases', undefined, async (ctx) => {
      const resp = await ctx
        .client()
        .lease.leases()
        .catch((err: unknown) => fail(ExitCode.BadConnection, errorText(err)));
      ctx.display.leases(resp);
    }),
    leaf(
      'keep-alive',
      'Keeps leases alive (renew)',
      (c) =>
        c.option(
          '--once',
          'Resets the keep-alive time to its original value and exits immediately',
          false,
        ),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'lease keep-alive command needs lease ID as argument');
        const id = leaseArg(args[0]!);
        if (o.once === true) {
          const resp = await ctx
            .client()
            .lease.keepAliveOnce(id)
            .catch((err: unknown) => fail(ExitCode.BadConnection, errorText(err)));
          ctx.display.keepAlive(resp);
          return;
        }
        const ka = (await ctx.connected()).lease.keepAlive(id);
        try {
          for await (const resp of ka) ctx.display.keepAlive(resp);
        } catch (err) {
          // Losing the lease (expired, revoked, renewals failing) ends the loop as
          // clientv3's closed channel does; anything else is a real failure.
          if (err instanceof CliError) throw err;
          if (!(err instanceof ErrLeaseNotFound) && !(err instanceof ErrKeepAliveHalted)) throw err;
        }
        if (ctx.display.format === 'simple')
          ctx.io.out(`lease ${hexID(id, 16)} expired or revoked.\n`);
      },
    ),
  ]),
];

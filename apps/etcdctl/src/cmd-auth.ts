import { etcdserverpb } from '@etcd-ts/api';
import { ErrRootRoleNotExist, type PermissionType, prefixEnd } from '@etcd-ts/client3';
import { type CommandSpec, group, leaf } from './command.js';
import type { Context } from './context.js';
import { ExitCode, fail } from './errors.js';

/** Reads a password: a word from stdin, or with prompts and a confirmation (speakeasy). */
async function readPassword(ctx: Context, user: string, interactive: boolean): Promise<string> {
  const input = (await ctx.stdin()).toString('utf8');
  if (!interactive) return input.trim().split(/\s+/)[0] ?? '';
  const lines = input.split('\n');
  ctx.io.out(`Password of ${user}: `);
  const first = (lines[0] ?? '').replace(/\r$/, '');
  if (first.length === 0) fail(ExitCode.BadArgs, 'empty password');
  ctx.io.out(`Type password of ${user} again for confirmation: `);
  const second = (lines[1] ?? '').replace(/\r$/, '');
  if (first !== second) fail(ExitCode.BadArgs, 'given passwords are different');
  return first;
}

function permRange(
  args: string[],
  prefix: boolean,
  fromKey: boolean,
): { key: string; end: string } {
  const key = args[0]!;
  if (key.length === 0) {
    if (prefix && fromKey)
      fail(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
    // The empty key means every key: [\0, \0) is the whole key space for the server.
    return { key: '\0', end: prefix || fromKey ? '\0' : '' };
  }
  if (args.length === 1) {
    if (prefix) {
      if (fromKey) fail(ExitCode.BadArgs, '--from-key and --prefix flags are mutually exclusive');
      return { key, end: Buffer.from(prefixEnd(Buffer.from(key))).toString('latin1') };
    }
    return { key, end: fromKey ? '\0' : '' };
  }
  if (prefix) fail(ExitCode.BadArgs, 'unexpected endkey argument with --prefix flag');
  if (fromKey) fail(ExitCode.BadArgs, 'unexpected endkey argument with --from-key flag');
  return { key, end: args[1]! };
}

const permFlags = (verb: string) => (c: import('commander').Command) =>
  c
    .option('--prefix', `${verb} a prefix permission`, false)
    .option(
      '--from-key',
      `${verb} a permission of keys that are greater than or equal to the given key using byte compare`,
      false,
    );

export const authCommands: CommandSpec[] = [
  group('auth', 'Enable or disable authentication', [
    leaf('enable', 'Enables authentication', undefined, async (ctx, args) => {
      if (args.length !== 0)
        fail(ExitCode.BadArgs, 'auth enable command does not accept any arguments');
      const c = await ctx.connected();
      for (;;) {
        try {
          await c.auth.authEnable(ctx.call);
          break;
        } catch (err) {
          // etcdctl creates the root role for a root user that lacks it, then retries.
          if (!(err instanceof ErrRootRoleNotExist)) throw err;
          await c.auth.roleAdd('root', ctx.call);
          await c.auth.userGrantRole('root', 'root', ctx.call);
        }
      }
      ctx.io.out('Authentication Enabled\n');
    }),
    leaf('disable', 'Disables authentication', undefined, async (ctx, args) => {
      if (args.length !== 0)
        fail(ExitCode.BadArgs, 'auth disable command does not accept any arguments');
      await (await ctx.connected()).auth.authDisable(ctx.call);
      ctx.io.out('Authentication Disabled\n');
    }),
    leaf('status', 'Returns authentication status', undefined, async (ctx, args) => {
      if (args.length !== 0)
        fail(ExitCode.BadArgs, 'auth status command does not accept any arguments');
      const resp = await (await ctx.connected()).auth.authStatus(ctx.call);
      switch (ctx.display.format) {
        case 'simple':
          ctx.io.out(
            `Authentication Status: ${resp.enabled}\nAuthRevision: ${resp.authRevision}\n`,
          );
          return;
        default:
          ctx.display.authMessage('', resp, etcdserverpb.AuthStatusResponse);
      }
    }),
  ]),
  group('user', 'User related commands', [
    leaf(
      'add',
      'Adds a new user',
      (c) =>
        c
          .option('--interactive', 'Read password from stdin instead of interactive terminal', true)
          .option('--no-interactive')
          .option(
            '--new-user-password <password>',
            'Supply password from the command line flag',
            '',
          )
          .option('--no-password', 'Create a user without password (CN based auth only)'),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'user add command requires user name as its argument');
        // commander's --no-password negation sets `password` false when given.
        const noPassword = o.password === false;
        let user = args[0]!;
        let password = '';
        if (!noPassword) {
          if (o.newUserPassword !== '') password = String(o.newUserPassword);
          else {
            const colon = user.indexOf(':');
            if (colon < 0) password = await readPassword(ctx, user, o.interactive !== false);
            else {
              password = user.slice(colon + 1);
              user = user.slice(0, colon);
              if (user.length === 0) fail(ExitCode.BadArgs, 'empty user name is not allowed');
            }
          }
        }
        const resp = await (await ctx.connected()).auth.userAdd(user, password, {
          noPassword,
          ...ctx.call,
        });
        ctx.display.authMessage(`User ${user} created`, resp, etcdserverpb.AuthUserAddResponse);
      },
    ),
    leaf('delete', 'Deletes a user', undefined, async (ctx, args) => {
      if (args.length !== 1)
        fail(ExitCode.BadArgs, 'user delete command requires user name as its argument');
      const resp = await (await ctx.connected()).auth.userDelete(args[0]!, ctx.call);
      ctx.display.authMessage(`User ${args[0]} deleted`, resp, etcdserverpb.AuthUserDeleteResponse);
    }),
    leaf(
      'get',
      'Gets detailed information of a user',
      (c) => c.option('--detail', 'Show permissions of roles granted to the user', false),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'user get command requires user name as its argument');
        const name = args[0]!;
        const c = await ctx.connected();
        const resp = await c.auth.userGet(name, ctx.call);
        if (o.detail === true) {
          ctx.io.out(`User: ${name}\n`);
          for (const role of resp.roles) {
            ctx.io.out('\n');
            ctx.display.roleGet(role, await c.auth.roleGet(role, ctx.call));
          }
          return;
        }
        ctx.display.userGet(name, resp);
      },
    ),
    leaf('list', 'Lists all users', undefined, async (ctx, args) => {
      if (args.length !== 0) fail(ExitCode.BadArgs, 'user list command requires no arguments');
      ctx.display.userList(await (await ctx.connected()).auth.userList(ctx.call));
    }),
    leaf(
      'passwd',
      'Changes password of user',
      (c) =>
        c
          .option(
            '--interactive',
            'If true, read password from stdin instead of interactive terminal',
            true,
          )
          .option('--no-interactive'),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'user passwd command requires user name as its argument');
        const password = await readPassword(ctx, args[0]!, o.interactive !== false);
        const resp = await (await ctx.connected()).auth.userChangePassword(
          args[0]!,
          password,
          ctx.call,
        );
        ctx.display.authMessage(
          'Password updated',
          resp,
          etcdserverpb.AuthUserChangePasswordResponse,
        );
      },
    ),
    leaf('grant-role', 'Grants a role to a user', undefined, async (ctx, args) => {
      if (args.length !== 2) {
        fail(
          ExitCode.BadArgs,
          'user grant command requires user name and role name as its argument',
        );
      }
      const resp = await (await ctx.connected()).auth.userGrantRole(args[0]!, args[1]!, ctx.call);
      ctx.display.authMessage(
        `Role ${args[1]} is granted to user ${args[0]}`,
        resp,
        etcdserverpb.AuthUserGrantRoleResponse,
      );
    }),
    leaf('revoke-role', 'Revokes a role from a user', undefined, async (ctx, args) => {
      if (args.length !== 2) {
        fail(ExitCode.BadArgs, 'user revoke-role requires user name and role name as its argument');
      }
      const resp = await (await ctx.connected()).auth.userRevokeRole(args[0]!, args[1]!, ctx.call);
      ctx.display.authMessage(
        `Role ${args[1]} is revoked from user ${args[0]}`,
        resp,
        etcdserverpb.AuthUserRevokeRoleResponse,
      );
    }),
  ]),
  group('role', 'Role related commands', [
    leaf('add', 'Adds a new role', undefined, async (ctx, args) => {
      if (args.length !== 1)
        fail(ExitCode.BadArgs, 'role add command requires role name as its argument');
      const resp = await (await ctx.connected()).auth.roleAdd(args[0]!, ctx.call);
      ctx.display.authMessage(`Role ${args[0]} created`, resp, etcdserverpb.AuthRoleAddResponse);
    }),
    leaf('delete', 'Deletes a role', undefined, async (ctx, args) => {
      if (args.length !== 1)
        fail(ExitCode.BadArgs, 'role delete command requires role name as its argument');
      const resp = await (await ctx.connected()).auth.roleDelete(args[0]!, ctx.call);
      ctx.display.authMessage(`Role ${args[0]} deleted`, resp, etcdserverpb.AuthRoleDeleteResponse);
    }),
    leaf('get', 'Gets detailed information of a role', undefined, async (ctx, args) => {
      if (args.length !== 1)
        fail(ExitCode.BadArgs, 'role get command requires role name as its argument');
      ctx.display.roleGet(args[0]!, await (await ctx.connected()).auth.roleGet(args[0]!, ctx.call));
    }),
    leaf('list', 'Lists all roles', undefined, async (ctx, args) => {
      if (args.length !== 0) fail(ExitCode.BadArgs, 'role list command requires no arguments');
      ctx.display.roleList(await (await ctx.connected()).auth.roleList(ctx.call));
    }),
    leaf('grant-permission', 'Grants a key to a role', permFlags('grant'), async (ctx, args, o) => {
      if (args.length < 3) {
        fail(
          ExitCode.BadArgs,
          'role grant command requires role name, permission type, and key [endkey] as its argument',
        );
      }
      const type = args[1]!.toUpperCase();
      const types: Record<string, PermissionType> = {
        READ: 'read',
        WRITE: 'write',
        READWRITE: 'readwrite',
      };
      const perm = types[type];
      if (perm === undefined) fail(ExitCode.BadArgs, `invalid permission type: ${args[1]}`);
      const { key, end } = permRange(args.slice(2), o.prefix === true, o.fromKey === true);
      const resp = await ctx
        .client()
        .auth.roleGrantPermission(
          args[0]!,
          perm,
          Buffer.from(key, 'latin1'),
          Buffer.from(end, 'latin1'),
          ctx.call,
        );
      ctx.display.authMessage(
        `Role ${args[0]} updated`,
        resp,
        etcdserverpb.AuthRoleGrantPermissionResponse,
      );
    }),
    leaf(
      'revoke-permission',
      'Revokes a key from a role',
      permFlags('revoke'),
      async (ctx, args, o) => {
        if (args.length < 2) {
          fail(
            ExitCode.BadArgs,
            'role revoke-permission command requires role name and key [endkey] as its argument',
          );
        }
        const { key, end } = permRange(args.slice(1), o.prefix === true, o.fromKey === true);
        const resp = await ctx
          .client()
          .auth.roleRevokePermission(
            args[0]!,
            Buffer.from(key, 'latin1'),
            Buffer.from(end, 'latin1'),
            ctx.call,
          );
        ctx.display.roleRevokePermission(args[0]!, args[1]!, end, resp);
      },
    ),
  ]),
];

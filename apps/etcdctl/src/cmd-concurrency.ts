import { spawn } from 'node:child_process';
import { Election, Mutex, Session } from '@etcd-ts/client3';
import { type CommandSpec, leaf } from './command.js';
import { CliError, ExitCode, fail } from './errors.js';

/** Resolves on SIGINT or SIGTERM (and stops listening when `stop` is called). */
function interrupted(): { signal: AbortSignal; stop: () => void } {
  const ac = new AbortController();
  const on = () => ac.abort();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    signal: ac.signal,
    stop: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

export const concurrencyCommands: CommandSpec[] = [
  leaf(
    'lock',
    'Acquires a named lock',
    (c) => c.option('--ttl <seconds>', 'timeout for session', (v) => Number.parseInt(v, 10), 10),
    async (ctx, args, o) => {
      if (args.length === 0) {
        fail(
          ExitCode.BadArgs,
          'lock takes a lock name argument and an optional command to execute',
        );
      }
      const client = await ctx.connected();
      const session = await Session.create(client, { ttl: Number(o.ttl ?? 10) });
      const m = new Mutex(session, args[0]!);
      const sig = interrupted();
      try {
        await m.lock(sig.signal);
        const command = args.slice(1);
        if (command.length > 0) {
          const code = await new Promise<number | null>((resolve) => {
            const child = spawn(command[0]!, command.slice(1), {
              stdio: 'inherit',
              env: {
                ETCD_LOCK_KEY: m.key,
                ETCD_LOCK_REV: String(m.header?.revision ?? 0),
                ...process.env,
              },
            });
            child.on('error', () => resolve(-1));
            child.on('exit', (c) => resolve(c));
          });
          await m.unlock();
          if (code !== 0) fail(ExitCode.Error, `exit status ${code}`);
          return;
        }
        const k = await client.get(m.key);
        if (k.kvs.length === 0) fail(ExitCode.Error, 'lock lost on init');
        ctx.display.get(k);
        const which = await Promise.race([
          aborted(sig.signal).then(() => 'signal' as const),
          session.done.then(() => 'expired' as const),
        ]);
        if (which === 'signal') {
          await m.unlock();
          return;
        }
        fail(ExitCode.Error, 'session expired');
      } finally {
        sig.stop();
        session.orphan();
      }
    },
  ),
  leaf(
    'elect',
    'Observes and participates in leader election',
    (c) => c.option('-l, --listen', 'observation mode', false),
    async (ctx, args, o) => {
      if (args.length !== 1 && args.length !== 2) {
        fail(
          ExitCode.BadArgs,
          'elect takes one election name argument and an optional proposal argument',
        );
      }
      const listen = o.listen === true;
      if (args.length === 1 && !listen)
        fail(ExitCode.BadArgs, 'no proposal argument but -l not set');
      if (args.length === 2 && listen) fail(ExitCode.BadArgs, 'proposal given but -l is set');
      const client = await ctx.connected();
      const session = await Session.create(client);
      const e = new Election(session, args[0]!);
      const sig = interrupted();
      try {
        if (listen) {
          try {
            for await (const { header, kv } of e.observe(sig.signal)) {
              ctx.display.get({ header, kvs: [kv], more: false, count: 0 });
            }
          } catch (err) {
            if (!sig.signal.aborted) throw err;
          }
          if (!sig.signal.aborted) fail(ExitCode.Error, 'elect: observer lost');
          return;
        }
        await e.campaign(args[1]!, sig.signal);
        ctx.display.get(await client.get(e.key));
        const which = await Promise.race([
          aborted(sig.signal).then(() => 'signal' as const),
          session.done.then(() => 'expired' as const),
        ]);
        if (which === 'expired') throw new CliError(ExitCode.Error, 'elect: session expired');
        await e.resign();
      } finally {
        sig.stop();
        await session.close().catch(() => undefined);
      }
    },
  ),
];

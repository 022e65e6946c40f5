import { ErrCompacted, type Op, op, prefixEnd } from '@etcd-ts/client3';
import { type CommandSpec, leaf } from './command.js';
import { ExitCode, fail } from './errors.js';

/** Keys per page while copying the base state (clientv3/mirror's batch). */
const SYNC_BATCH = 1000;

export const mirrorCommands: CommandSpec[] = [
  leaf(
    'make-mirror',
    'Makes a mirror at the destination etcd cluster',
    (c) =>
      c
        .option('--prefix <prefix>', 'Key-value prefix to mirror', '')
        .option(
          '--dest-prefix <prefix>',
          'destination prefix to mirror a prefix to a different prefix in the destination cluster',
          '',
        )
        .option('--no-dest-prefix', 'mirror key-values to the root of the destination cluster')
        .option(
          '--dest-cert <file>',
          'Identify secure client using this TLS certificate file for the destination cluster',
        )
        .option('--dest-key <file>', 'Identify secure client using this TLS key file')
        .option(
          '--dest-cacert <file>',
          'Verify certificates of TLS enabled secure servers using this CA bundle',
        )
        .option(
          '--dest-insecure-transport',
          'Disable transport security for client connections',
          true,
        )
        .option('--no-dest-insecure-transport'),
    async (ctx, args, o) => {
      if (args.length !== 1) fail(ExitCode.BadArgs, 'make-mirror takes one destination argument');
      const prefix = String(o.prefix ?? '');
      // commander's --no-dest-prefix sets destPrefix to false.
      const noDestPrefix = o.destPrefix === false;
      let destPrefix = noDestPrefix ? '' : String(o.destPrefix ?? '');
      const src = await ctx.connected();
      const dst = ctx.newClient([args[0]!], false, {
        cert: o.destCert as string | undefined,
        key: o.destKey as string | undefined,
        cacert: o.destCacert as string | undefined,
        insecureTransport: o.destInsecureTransport !== false,
        insecureSkipTlsVerify: false,
      });
      let total = 0;
      const counter = setInterval(() => ctx.io.out(`${total}\n`), 30_000);
      const rename = (key: Uint8Array) => {
        const k = Buffer.from(key).toString('latin1');
        const i = k.indexOf(prefix);
        return Buffer.from(
          i < 0 ? k : k.slice(0, i) + destPrefix + k.slice(i + prefix.length),
          'latin1',
        );
      };
      try {
        // The base state at one revision, in pages.
        const first = await src.get(prefix, { prefix: true, countOnly: true });
        const rev = first.header!.revision;
        if (!noDestPrefix && destPrefix.length === 0) destPrefix = prefix;
        let from = Buffer.from(prefix === '' ? '\0' : prefix, 'latin1');
        const rangeEnd =
          prefix === '' ? Buffer.from([0]) : prefixEnd(Buffer.from(prefix, 'latin1'));
        for (;;) {
          const page = await src.get(from, { rangeEnd, revision: rev, limit: SYNC_BATCH });
          for (const kv of page.kvs) {
            await dst.put(rename(kv.key), kv.value);
            total++;
          }
          if (!page.more || page.kvs.length === 0) break;
          from = Buffer.concat([Buffer.from(page.kvs[page.kvs.length - 1]!.key), Buffer.from([0])]);
        }
        // Then every change after it, one destination txn per source revision.
        const watcher = src.watch(prefix, { prefix: true, startRevision: rev + 1 });
        for await (const wr of watcher) {
          let lastRev = 0;
          let ops: Op[] = [];
          for (const ev of wr.events) {
            const nextRev = ev.kv?.modRevision ?? 0;
            if (lastRev !== 0 && nextRev > lastRev) {
              await dst
                .txn()
                .then(...ops)
                .commit();
              ops = [];
            }
            lastRev = nextRev;
            ops.push(
              ev.type === 0
                ? op.put(rename(ev.kv!.key), ev.kv!.value)
                : op.delete(rename(ev.kv!.key)),
            );
            total++;
          }
          if (ops.length > 0)
            await dst
              .txn()
              .then(...ops)
              .commit();
        }
      } catch (err) {
        if (err instanceof ErrCompacted) fail(ExitCode.Error, ErrCompacted.message);
        throw err;
      } finally {
        clearInterval(counter);
      }
    },
  ),
];

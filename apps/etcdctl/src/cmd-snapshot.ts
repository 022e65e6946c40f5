import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { BoltError, BoltReader } from '@etcd-ts/bbolt';
import { crc32c } from '@node-rs/crc32';
import { type CommandSpec, group, leaf } from './command.js';
import type { Context } from './context.js';
import type { DBStatus } from './display.js';
import { CliError, ExitCode, fail } from './errors.js';
import { humanizeBytes } from './gofmt.js';
import { restoreSnapshot } from './restore.js';

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length);

/** etcd's `snapshot status`: a hash over every bucket, the newest revision, keys and size. */
export async function snapshotStatus(path: string): Promise<DBStatus> {
  try {
    await stat(path);
  } catch {
    throw new CliError(ExitCode.Error, `stat ${path}: no such file or directory`);
  }
  const db = BoltReader.open(path);
  try {
    // etcdctl runs bbolt's consistency check first and refuses a damaged file.
    const problems = db.check();
    if (problems.length > 0)
      throw new CliError(
        ExitCode.Error,
        `snapshot file integrity check failed. ${problems.length} errors found.\n${problems.join('\n')}`,
      );
    // CRC-32C over every bucket's name, then its keys and values, in order.
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    for (const bucket of db.buckets()) {
      hash = crc32c(Buffer.from(bucket.name), hash);
      const isKey = Buffer.from(bucket.name).toString('latin1') === 'key';
      for (const { key, value, bucket: nested } of bucket.entries()) {
        hash = crc32c(asBuffer(key), hash);
        // bbolt's ForEach hands a nested bucket's value as nil: only its key is hashed.
        if (!nested) hash = crc32c(asBuffer(value), hash);
        if (isKey && key.length >= 8) revision = Number(asBuffer(key).readBigUInt64BE(0));
        totalKey++;
      }
    }
    return { hash: hash >>> 0, revision, totalKey, totalSize: db.size };
  } finally {
    db.close();
  }
}

function log(
  ctx: Context,
  caller: string,
  msg: string,
  fields: Record<string, unknown> = {},
): void {
  const line = { level: 'info', ts: Date.now() / 1000, caller, msg, ...fields };
  ctx.io.err(`${JSON.stringify(line)}\n`);
}

/** Streams the member's snapshot to `path` (via path.part), checking etcd's sha256 trailer. */
async function snapshotSave(ctx: Context, path: string): Promise<void> {
  const eps = ctx.flags.endpoints;
  if (eps.length !== 1) {
    fail(
      ExitCode.BadArgs,
      `snapshot must be requested to one selected node, not multiple [${eps.join(' ')}]`,
    );
  }
  const part = `${path}.part`;
  await rm(part, { force: true });
  log(ctx, 'snapshot/v3_snapshot.go:119', 'created temporary db file', { path: part });
  const started = Date.now();
  const client = await ctx.connected();
  const stream = await client.maintenance.snapshot();
  log(ctx, 'snapshot/v3_snapshot.go:127', 'fetching snapshot', { endpoint: eps[0] });
  const out = createWriteStream(part, { mode: 0o600 });
  const hash = createHash('sha256');
  // The last 32 bytes are the sha256 of everything before them: hold them back.
  let tail = Buffer.alloc(0);
  let total = 0;
  let lastProgress = 0;
  const showProgress = ctx.isTTY;
  try {
    for await (const chunk of stream) {
      const data = Buffer.concat([tail, chunk as Buffer]);
      const body = data.subarray(0, Math.max(0, data.length - 32));
      tail = data.subarray(body.length);
      hash.update(body);
      total += (chunk as Buffer).length;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      if (showProgress && Date.now() - lastProgress > 200) {
        lastProgress = Date.now();
        const secs = Math.max((Date.now() - started) / 1000, 0.001);
        ctx.io.err(`\r${humanizeBytes(total)} (${humanizeBytes(Math.round(total / secs))}/s)   `);
      }
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  } catch (err) {
    out.destroy();
    await rm(part, { force: true });
    throw err;
  }
  if (showProgress) ctx.io.err('\n');
  if (tail.length !== 32 || !hash.digest().equals(tail)) {
    await rm(part, { force: true });
    fail(ExitCode.Error, 'snapshot file integrity check failed: sha256 mismatch');
  }
  const fd = await open(part, 'r+');
  await fd.sync();
  await fd.close();
  log(ctx, 'snapshot/v3_snapshot.go:142', 'fetched snapshot', {
    endpoint: eps[0],
    size: humanizeBytes(total),
    took: (Date.now() - started) / 1000,
  });
  await rename(part, path);
  log(ctx, 'snapshot/v3_snapshot.go:152', 'saved', { path });
  ctx.io.out(`Snapshot saved at ${path}\n`);
}

export const snapshotCommands: CommandSpec[] = [
  group('snapshot', 'Manages etcd node snapshots', [
    leaf(
      'save',
      'Stores an etcd node backend snapshot to a given file',
      undefined,
      async (ctx, args) => {
        if (args.length !== 1) fail(ExitCode.BadArgs, 'snapshot save expects one argument');
        await snapshotSave(ctx, args[0]!);
      },
    ),
    leaf(
      'restore',
      'Restores an etcd member snapshot to an etcd directory',
      (c) =>
        c
          .option('--data-dir <dir>', 'Path to the data directory')
          .option('--wal-dir <dir>', 'Path to the WAL directory (use --data-dir if none given)')
          .option(
            '--initial-cluster <urls>',
            'Initial cluster configuration for restore bootstrap',
            'default=http://localhost:2380',
          )
          .option(
            '--initial-cluster-token <token>',
            'Initial cluster token for the etcd cluster during restore bootstrap',
            'etcd-cluster',
          )
          .option(
            '--initial-advertise-peer-urls <urls>',
            "List of this member's peer URLs to advertise to the rest of the cluster",
            'http://localhost:2380',
          )
          .option('--name <name>', 'Human-readable name for this member', 'default')
          .option(
            '--skip-hash-check',
            'Ignore snapshot integrity hash value (required if copied from data directory)',
            false,
          ),
      async (ctx, args, o) => {
        if (args.length !== 1)
          fail(ExitCode.BadArgs, 'snapshot restore requires exactly one argument');
        try {
          await stat(args[0]!);
        } catch {
          fail(ExitCode.Error, `stat ${args[0]}: no such file or directory`);
        }
        await restoreSnapshot({
          snapshotPath: args[0]!,
          name: String(o.name),
          initialCluster: String(o.initialCluster),
          initialClusterToken: String(o.initialClusterToken),
          initialAdvertisePeerUrls: String(o.initialAdvertisePeerUrls),
          dataDir: o.dataDir as string | undefined,
          walDir: o.walDir as string | undefined,
          skipHashCheck: o.skipHashCheck === true,
          log: (msg, fields) => {
            const caller =
              msg === 'restoring snapshot'
                ? 'snapshot/v3_snapshot.go:296'
                : 'snapshot/v3_snapshot.go:309';
            log(ctx, caller, msg, fields);
          },
        });
      },
    ),
    leaf('status', 'Gets backend snapshot status of a given file', undefined, async (ctx, args) => {
      if (args.length !== 1)
        fail(ExitCode.BadArgs, 'snapshot status requires exactly one argument');
      let status: DBStatus;
      try {
        status = await snapshotStatus(args[0]!);
      } catch (err) {
        if (err instanceof BoltError) fail(ExitCode.Error, err.message);
        throw err;
      }
      ctx.display.dbStatus(status);
    }),
  ]),
];

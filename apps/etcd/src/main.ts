import { SERVER_VERSION, startEtcd } from '@etcd-ts/server';
import { HelpRequested, logSettings, parseFlags, toEmbedConfig } from './flags.js';
import { createLogger } from './logger.js';

/** Runs the etcd executable: parse flags, start the member, stop on SIGTERM/SIGINT. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(argv, env);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(err.message);
      process.exit(0);
    }
    process.stderr.write(`etcd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (flags.values.version === 'true') {
    process.stdout.write(
      `etcd Version: ${SERVER_VERSION}\nGit SHA: etcd-ts\nGo Version: node${process.versions.node}\nGo OS/Arch: ${process.platform}/${process.arch}\n`,
    );
    return;
  }
  let lg: ReturnType<typeof createLogger>;
  let cfg: ReturnType<typeof toEmbedConfig>;
  const warnings: string[] = [...flags.warnings];
  try {
    const { level, outputs } = logSettings(flags);
    lg = createLogger(level, outputs);
    cfg = { ...toEmbedConfig(flags, warnings), logger: undefined as never };
  } catch (err) {
    process.stderr.write(`etcd: ${(err as Error).message}\n`);
    process.exit(2);
  }
  cfg.logger = lg;
  if (flags.values['config-file'] !== '')
    lg.info(
      { path: flags.values['config-file'] },
      'loaded server configuration, other configuration command line flags and environment variables will be ignored if provided',
    );
  // What etcd-ts accepts without doing what etcd would (the v2 API, the v2 proxy, extras).
  for (const w of warnings) lg.warn({}, w);
  lg.info(
    {
      'etcd-version': SERVER_VERSION,
      'node-version': process.version,
      'go-os': process.platform,
      'go-arch': process.arch,
    },
    'Running etcd-ts',
  );
  let etcd: Awaited<ReturnType<typeof startEtcd>>;
  try {
    etcd = await startEtcd(cfg);
  } catch (err) {
    lg.error({ error: (err as Error).message }, 'discovery failed');
    process.exit(1);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // Every acknowledged write is already fsynced in the WAL: exiting now loses nothing.
      lg.warn({ signal }, 'received second signal; exiting immediately');
      process.exit(1);
    }
    lg.info({ signal }, 'received signal; shutting down');
    etcd.close().then(
      () => {
        lg.info({}, 'closed etcd server');
        process.exit(0);
      },
      (err) => {
        lg.error({ error: String(err) }, 'failed to shut down cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // The member stops by itself on a broken invariant (exit 1) or once it was removed from
  // the cluster (exit 0, as etcd).
  etcd.server.stopNotify().then(async () => {
    await etcd.close();
    process.exit(etcd.server.failure === undefined ? 0 : 1);
  });
}

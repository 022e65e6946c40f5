import type { Logger } from '@etcd-ts/server';
import pino from 'pino';

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'panic', 'fatal']);

/**
 * etcd's zap JSON lines with pino: {"level":"info","ts":"<ISO time>","caller":...,"msg":...},
 * written synchronously so the last lines before a crash are not lost, to every target of
 * --log-outputs: 'default' and 'stderr' (stderr), 'stdout', or a file path (appended to).
 * etcd's 'systemd/journal' is refused: under systemd, journald already captures stderr.
 */
export function createLogger(level: string, outputs: string | string[]): Logger {
  if (!LEVELS.has(level)) throw new Error(`unknown log-level ${JSON.stringify(level)}`);
  const targets = [...new Set(typeof outputs === 'string' ? outputs.split(',') : outputs)]
    .map((o) => o.trim())
    .filter((o) => o !== '');
  if (targets.length === 0) targets.push('default');
  if (targets.includes('systemd/journal'))
    throw new Error(
      "--log-outputs=systemd/journal is not supported by etcd-ts: log to 'stderr', which journald captures under systemd",
    );
  // 'default' and 'stderr' are one stream, as in etcd.
  const streams = [...new Set(targets.map((t) => (t === 'default' ? 'stderr' : t)))].map((t) =>
    t === 'stderr' || t === 'stdout'
      ? pino.destination({ fd: t === 'stderr' ? 2 : 1, sync: true })
      : pino.destination({ dest: t, sync: true, mkdir: true, append: true }),
  );
  const options = {
    level: level === 'panic' ? 'fatal' : level,
    base: undefined,
    messageKey: 'msg',
    timestamp: () => `,"ts":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (streams.length === 1) return pino(options, streams[0]);
  return pino(
    options,
    pino.multistream(
      streams.map((stream) => ({ stream, level: 'trace' as const })),
      { dedupe: false },
    ),
  );
}

import type { Logger } from '@etcd-ts/server';
import pino from 'pino';

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'panic', 'fatal']);

/**
 * etcd's zap JSON lines with pino: {"level":"info","ts":"<ISO time>","caller":...,"msg":...},
 * written synchronously to stderr (or stdout / a file per --log-outputs) so the last
 * lines before a crash are not lost.
 */
export function createLogger(level: string, outputs: string): Logger {
  if (!LEVELS.has(level)) throw new Error(`unknown log-level ${JSON.stringify(level)}`);
  const target =
    outputs === 'default' || outputs === 'stderr' ? 2 : outputs === 'stdout' ? 1 : outputs;
  const dest =
    typeof target === 'number'
      ? pino.destination({ fd: target, sync: true })
      : pino.destination({ dest: target, sync: true, mkdir: true });
  return pino(
    {
      level: level === 'panic' ? 'fatal' : level,
      base: undefined,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

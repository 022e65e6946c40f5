// The logger raft writes to. It is injected (raft never prints by itself);
// pino's logger and console both satisfy it. The default discards everything
// except that panics throw.

export interface Logger {
  debug(msg: string, ...args: unknown[]): void;
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
}

/** An invariant was broken: raft's state can no longer be trusted. */
export class RaftPanic extends Error {
  override name = 'RaftPanic';
}

export const discardLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Logs msg at error level and throws a RaftPanic: the Go library's Panicf. */
export function panic(logger: Logger, msg: string): never {
  logger.error(msg);
  throw new RaftPanic(msg);
}

/** etcdctl's exit codes (ctlv3/command/error.go). */
export const ExitCode = {
  Success: 0,
  Error: 1,
  BadConnection: 2,
  InvalidInput: 3,
  BadFeature: 4,
  Interrupted: 5,
  IO: 6,
  BadArgs: 128,
} as const;

/** Ends the command: `Error: <message>` on stderr and the exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    /** Exit without printing `Error: ...` (the command printed its own lines). */
    readonly silent = false,
  ) {
    super(message);
  }
}

export function fail(exitCode: number, message: string): never {
  throw new CliError(exitCode, message);
}

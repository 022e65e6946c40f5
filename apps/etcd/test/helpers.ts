import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** apps/etcd/bin/etcd: the executable under test (run `pnpm build` first). */
export const ETCD_TS_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'etcd');

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs a command to completion (or kills it after `timeoutMs`, for watch). */
export function run(
  bin: string,
  args: string[],
  opts: { stdin?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { env: { ...process.env, ETCDCTL_API: '3', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGINT'), opts.timeoutMs);
    child.on('close', (code) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    // Commands that exit without reading stdin close the pipe first: that is not an error.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

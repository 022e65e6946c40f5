import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DEBIAN_ETCD_BIN, type EtcdProcess, startEtcd } from '@etcd-ts/testing';
import { Target } from './target.js';

/** The reference: Debian's etcd 3.4. */
export const REFERENCE_BIN = process.env.FUZZ_REFERENCE_BIN ?? DEBIAN_ETCD_BIN;

/** apps/etcd's executable (built by `pnpm build`). */
export function defaultServerBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@etcd-ts/etcd/package.json')), 'bin', 'etcd');
}

/** The limits both servers run with, small enough for the fuzzer to reach each of them. */
export const LIMITS = {
  /** Below any value the generator sends as "huge", far above what small writes add up to. */
  quotaBackendBytes: 768 * 1024,
  /** Above the quota, so a put past the quota is refused as NOSPACE, others as too large. */
  maxRequestBytes: 1024 * 1024,
  maxTxnOps: 16,
} as const;

/** The same flags for both servers. */
export function serverArgs(): string[] {
  return [
    '--auth-token=simple',
    `--quota-backend-bytes=${LIMITS.quotaBackendBytes}`,
    `--max-request-bytes=${LIMITS.maxRequestBytes}`,
    `--max-txn-ops=${LIMITS.maxTxnOps}`,
  ];
}

/** A started server and the fuzzer's connection to it. */
export interface Server {
  readonly process: EtcdProcess;
  readonly target: Target;
  /** Whether the process is still running. */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Starts a server on free ports. A port taken between freePort() and the bind (other tests
 * run on this machine) is retried on new ports; only a server that cannot start at all
 * fails.
 */
export async function startServer(label: string, bin: string, attempts = 4): Promise<Server> {
  for (let i = 1; ; i++) {
    try {
      return await startServerOnce(label, bin);
    } catch (err) {
      const text = String((err as Error).message);
      if (i >= attempts || !/address already in use|EADDRINUSE/.test(text)) throw err;
    }
  }
}

async function startServerOnce(label: string, bin: string): Promise<Server> {
  const proc = await startEtcd({ bin, args: serverArgs(), startTimeoutMs: 30_000 });
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  try {
    const target = await Target.connect(label, proc.endpoint, {
      peerUrl: proc.peerUrl,
      clientUrl: proc.clientUrl,
    });
    return {
      process: proc,
      target,
      alive: () => !exited,
      stop: async () => {
        target.close();
        await proc.stop();
      },
    };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

/** Both servers, fresh, with the same flags. */
export interface Pair {
  readonly reference: Server;
  readonly ours: Server;
  stop(): Promise<void>;
}

export async function startPair(oursBin: string): Promise<Pair> {
  const [reference, ours] = await Promise.allSettled([
    startServer('etcd', REFERENCE_BIN),
    startServer('ours', oursBin),
  ]);
  if (reference.status === 'rejected' || ours.status === 'rejected') {
    if (reference.status === 'fulfilled') await reference.value.stop();
    if (ours.status === 'fulfilled') await ours.value.stop();
    throw reference.status === 'rejected'
      ? reference.reason
      : (ours as PromiseRejectedResult).reason;
  }
  return {
    reference: reference.value,
    ours: ours.value,
    stop: async () => {
      await Promise.all([reference.value.stop(), ours.value.stop()]);
    },
  };
}

/**
 * Starts pairs ahead of need: while one pair serves a sequence, the next one boots, so a
 * replay (shrinking runs many) does not wait for two servers to start each time.
 */
export class PairPool {
  private spare: Promise<Pair> | undefined;

  constructor(private readonly oursBin: string) {}

  async take(): Promise<Pair> {
    const p = this.spare ?? startPair(this.oursBin);
    this.spare = undefined;
    const pair = await p;
    this.spare = startPair(this.oursBin);
    this.spare.catch(() => {});
    return pair;
  }

  async close(): Promise<void> {
    const s = this.spare;
    this.spare = undefined;
    if (s !== undefined) await s.then((p) => p.stop()).catch(() => {});
  }
}

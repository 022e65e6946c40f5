import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EtcdProcess, REAL_ETCDCTL_BIN, startEtcd } from '@etcd-ts/testing';

/** Our etcdctl executable (the bin shim running dist/). */
export const OUR_ETCDCTL = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'etcdctl');
export { REAL_ETCDCTL_BIN };

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs an etcdctl binary to completion. */
export function runCtl(
  bin: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    child.stdout.on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * Two etcd members started identically (same name, advertised peer URL and cluster
 * token, so the same member and cluster ids) on different client ports: one for the
 * real etcdctl, one for ours. Every scenario runs the same commands against both in
 * lockstep, so both servers go through the same history and answer the same things.
 */
export interface Twin {
  real: EtcdProcess;
  ours: EtcdProcess;
  stop(): Promise<void>;
}

export async function startTwin(extraArgs: string[] = []): Promise<Twin> {
  const args = [
    '--initial-advertise-peer-urls=http://127.0.0.1:2380',
    '--initial-cluster=default=http://127.0.0.1:2380',
    '--initial-cluster-token=etcdctl-twin',
    ...extraArgs,
  ];
  const [real, ours] = await Promise.all([startEtcd({ args }), startEtcd({ args })]);
  return {
    real,
    ours,
    stop: async () => {
      await Promise.all([real.stop(), ours.stop()]);
    },
  };
}

/**
 * Replaces what legitimately differs between the two runs: client ports, timings,
 * log timestamps and client ids, lease ids (random per server), db sizes.
 */
export class Normaliser {
  private readonly ids = new Map<string, string>();

  constructor(private readonly endpoint: string) {}

  private id(token: string, kind: string): string {
    let v = this.ids.get(`${kind}:${token}`);
    if (v === undefined) {
      v = `<${kind}${this.ids.size + 1}>`;
      this.ids.set(`${kind}:${token}`, v);
    }
    return v;
  }

  /**
   * Lease (and member) ids as this side's etcdctl printed them, to map them alike on both
   * sides: zero-padded (%016x), bare (%x) and padded with spaces (%16x) are one id.
   */
  lease(hex: string): void {
    const v = this.id(hex.padStart(16, '0'), 'lease');
    this.ids.set(`leasebare:${BigInt(`0x${hex}`).toString(16)}`, v);
    this.id(BigInt.asIntN(64, BigInt(`0x${hex}`)).toString(), 'leasedec');
  }

  apply(text: string): string {
    let s = text.replaceAll(this.endpoint, '<endpoint>');
    const port = this.endpoint.split(':')[1]!;
    s = s.replaceAll(`:${port}`, ':<port>');
    for (const [key, value] of this.ids) {
      const token = key.slice(key.indexOf(':') + 1);
      s = s.replace(new RegExp(`\\b${token}\\b`, 'g'), value);
    }
    // %16x pads a short id with spaces: the placeholder takes its place, padding and all.
    s = s.replace(/ +(<lease\d+>)/g, ' $1');
    s = s.replace(/"ts":("[^"]*"|[\d.e+]+)/g, '"ts":<ts>');
    s = s.replace(/endpoint:\/\/client-[0-9a-f-]+\//g, 'endpoint://client-<uuid>/');
    s = s.replace(/took = [\d.]+[µnm]?s/g, 'took = <took>');
    s = s.replace(/"took":("[\d.]+[µnm]?s"|[\d.e-]+)/g, '"took":<took>');
    s = s.replace(/\| [\d.]+[µnm]?s \|/g, '| <took> |');
    s = s.replace(/"Took" : [\d.]+[µnm]?s/g, '"Took" : <took>');
    return s;
  }
}

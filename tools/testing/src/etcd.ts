import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** Where Debian's `etcd-server` package installs the etcd 3.4 binary, whatever ETCD_BIN says. */
export const DEBIAN_ETCD_BIN = '/usr/bin/etcd';
/** Where Debian's `etcd-client` package installs etcdctl 3.4, whatever ETCDCTL_BIN says. */
export const DEBIAN_ETCDCTL_BIN = '/usr/bin/etcdctl';
/**
 * The etcd the suites start: ETCD_BIN when set (client3's suite runs a second time with it
 * pointing at apps/etcd), otherwise Debian's etcd 3.4.
 */
export const REAL_ETCD_BIN = process.env.ETCD_BIN ?? DEBIAN_ETCD_BIN;
/** The etcdctl the suites run: ETCDCTL_BIN when set, otherwise Debian's etcdctl 3.4. */
export const REAL_ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? DEBIAN_ETCDCTL_BIN;

/** True when this run is CI, where a missing reference binary is a failure, not a skip. */
export const inCI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * Whether the real etcd can be used here. Under CI a missing binary throws, so a suite
 * that needs etcd fails instead of silently skipping; elsewhere it returns false and the
 * suite may skip.
 */
export function realEtcdAvailable(bin: string = REAL_ETCD_BIN): boolean {
  if (existsSync(bin)) return true;
  if (inCI) {
    throw new Error(
      `${bin} is missing: CI must install Debian's etcd-server (apt-get install -y etcd-server etcd-client)`,
    );
  }
  return false;
}

export interface EtcdProcessOptions {
  /** The etcd executable; Debian's etcd 3.4 by default. */
  bin?: string;
  /** Member name (`--name`). */
  name?: string;
  /** Extra flags, appended after the ones the harness sets. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Reuse this data dir instead of a fresh temporary one (it is then not removed on stop). */
  dataDir?: string;
  /** How long to wait for the member to serve clients. */
  startTimeoutMs?: number;
}

export interface EtcdProcess {
  readonly name: string;
  readonly pid: number;
  /** `127.0.0.1:<port>`, the form gRPC clients take. */
  readonly endpoint: string;
  /** `http://127.0.0.1:<port>`. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** Everything the process wrote to stderr so far (etcd logs there). */
  logs(): string;
  /** SIGTERM, wait for exit, remove the temporary data dir. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit; keeps the data dir. */
  kill(): Promise<void>;
  /** Sends a signal (SIGSTOP, SIGCONT...) without waiting. */
  signal(sig: NodeJS.Signals): void;
  /** Settles when it serves clients (rejects if it exits first or times out). */
  readonly ready: Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

const READY_LINE = 'ready to serve client requests';

/**
 * Starts one etcd member on free loopback ports with its own data dir and waits until
 * it logs that it serves client requests. The caller must `stop()` it.
 */
export async function startEtcd(options: EtcdProcessOptions = {}): Promise<EtcdProcess> {
  const name = options.name ?? 'default';
  const clientPort = await freePort();
  const peerPort = await freePort();
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  return spawnEtcd({
    ...options,
    name,
    clientPort,
    peerPort,
    initialCluster: `${name}=${peerUrl}`,
    initialClusterState: 'new',
  });
}

/** One member's fixed place: its ports and its part of --initial-cluster. */
export interface EtcdSpawnOptions extends EtcdProcessOptions {
  name: string;
  clientPort: number;
  peerPort: number;
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  /** Resolve as soon as the process runs, without waiting for it to serve clients. */
  noWait?: boolean;
  /** The scheme of the peer URLs (https needs the --peer-* TLS flags in `args`); http by default. */
  peerScheme?: 'http' | 'https';
}

/**
 * Starts one etcd member on the given loopback ports and waits (unless `noWait`) until it
 * logs that it serves client requests.
 */
export async function spawnEtcd(options: EtcdSpawnOptions): Promise<EtcdProcess> {
  const bin = options.bin ?? REAL_ETCD_BIN;
  const name = options.name;
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'etcd-ts-')));
  const clientPort = options.clientPort;
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `${options.peerScheme ?? 'http'}://127.0.0.1:${options.peerPort}`;
  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${options.initialCluster}`,
    `--initial-cluster-state=${options.initialClusterState}`,
    ...(options.args ?? []),
  ];
  const child = spawn(bin, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    // Keep the tail only: a long test must not grow this without bound.
    if (output.length > 1 << 20) output = output.slice(-(1 << 19));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const ready = waitForReady(child, () => output, options.startTimeoutMs ?? 20_000);
  try {
    if (options.noWait === true) ready.catch(() => {});
    else await ready;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const terminate = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    name,
    ready,
    pid: child.pid ?? -1,
    endpoint: `127.0.0.1:${clientPort}`,
    clientUrl,
    peerUrl,
    dataDir,
    logs: () => output,
    stop: async () => {
      await terminate('SIGTERM');
      if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
    },
    kill: () => terminate('SIGKILL'),
    signal: (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    exited: exited.then(() => child.exitCode),
  };
}

function waitForReady(child: ChildProcess, logs: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`etcd did not become ready in ${timeoutMs} ms; output:\n${logs()}`));
    }, timeoutMs);
    const onData = () => {
      if (logs().includes(READY_LINE)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`etcd exited with ${code} before it was ready; output:\n${logs()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

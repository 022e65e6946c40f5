import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdProcess, type EtcdProcessOptions, spawnEtcd } from './etcd.js';
import { freePort } from './ports.js';

/** One member of a test cluster: its fixed ports and data dir, restartable. */
export interface ClusterMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** `127.0.0.1:<client port>`, the form gRPC clients take. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** The running process; undefined while stopped. */
  proc: EtcdProcess | undefined;
}

export interface EtcdCluster {
  readonly members: ClusterMember[];
  /** `name=peerUrl,...` of every member. */
  readonly initialCluster: string;
  /** SIGKILL one member (its data dir stays). */
  kill(m: ClusterMember): Promise<void>;
  /** Starts a stopped member again on its ports and data dir, waiting until it serves. */
  restart(m: ClusterMember, args?: string[]): Promise<void>;
  /** Stops every member and removes the data dirs. */
  stop(): Promise<void>;
  /** The logs of every member, for a failing test's message. */
  logs(): string;
}

export interface ClusterOptions extends Omit<EtcdProcessOptions, 'name' | 'dataDir'> {
  size: number;
  /** Flags every member gets. */
  args?: string[];
  /** The scheme of the peer URLs (https needs the --peer-* TLS flags in `args`); http by default. */
  peerScheme?: 'http' | 'https';
}

/**
 * Starts a cluster of `size` members of any etcd executable on free loopback ports, all at
 * once (they must see each other to elect a leader), and waits until every one serves.
 */
export async function startCluster(options: ClusterOptions): Promise<EtcdCluster> {
  const root = await mkdtemp(join(tmpdir(), 'etcd-ts-cluster-'));
  const members: ClusterMember[] = [];
  for (let i = 0; i < options.size; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({
      name: `m${i + 1}`,
      clientPort,
      peerPort,
      endpoint: `127.0.0.1:${clientPort}`,
      peerUrl: `${options.peerScheme ?? 'http'}://127.0.0.1:${peerPort}`,
      dataDir: join(root, `m${i + 1}`),
      proc: undefined,
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const spawn = (m: ClusterMember, state: 'new' | 'existing', args: string[] = []) =>
    spawnEtcd({
      ...options,
      name: m.name,
      clientPort: m.clientPort,
      peerPort: m.peerPort,
      dataDir: m.dataDir,
      initialCluster,
      initialClusterState: state,
      args: [...(options.args ?? []), ...args],
      noWait: true,
    });
  const cluster: EtcdCluster = {
    members,
    initialCluster,
    async kill(m) {
      await m.proc?.kill();
      m.proc = undefined;
    },
    async restart(m, args) {
      m.proc = await spawn(m, 'existing', args);
      await m.proc.ready;
    },
    async stop() {
      await Promise.all(members.map((m) => m.proc?.kill()));
      await rm(root, { recursive: true, force: true });
    },
    logs() {
      return members.map((m) => `--- ${m.name}\n${m.proc?.logs() ?? '(stopped)'}`).join('\n');
    },
  };
  try {
    for (const m of members) m.proc = await spawn(m, 'new');
    await Promise.all(members.map((m) => m.proc!.ready));
  } catch (err) {
    const logs = cluster.logs();
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

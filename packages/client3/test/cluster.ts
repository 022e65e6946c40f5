import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REAL_ETCD_BIN } from '@etcd-ts/testing';

export interface ClusterMember {
  name: string;
  /** 127.0.0.1:<port> */
  endpoint: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
  logs: string;
}

export interface TestCluster {
  members: ClusterMember[];
  endpoints: string[];
  /** SIGKILLs one member (its data dir stays, so it can restart). */
  kill(name: string): Promise<void>;
  /** Starts a killed member again with its data. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

const READY = 'ready to serve client requests';

/**
 * Starts an n-member etcd cluster (ETCD_BIN, Debian's etcd 3.4 by default) on free
 * loopback ports sharing one --initial-cluster, and waits until every member serves.
 */
export async function startCluster(size = 3, bin = REAL_ETCD_BIN): Promise<TestCluster> {
  const token = `client3-${process.pid}-${Date.now()}`;
  const members: ClusterMember[] = [];
  for (let i = 0; i < size; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({
      name: `m${i}`,
      endpoint: `127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: await mkdtemp(join(tmpdir(), `etcd-ts-cluster-m${i}-`)),
      process: undefined,
      logs: '',
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: ClusterMember): Promise<void> => {
    const child = spawn(
      bin,
      [
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=http://${m.endpoint}`,
        `--advertise-client-urls=http://${m.endpoint}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        '--initial-cluster-state=new',
        `--initial-cluster-token=${token}`,
        '--heartbeat-interval=50',
        '--election-timeout=500',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    m.process = child;
    m.logs = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${m.name} not ready:\n${m.logs}`)), 30_000);
      const onData = (chunk: Buffer) => {
        m.logs = (m.logs + chunk.toString()).slice(-200_000);
        if (m.logs.includes(READY)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${m.name} exited with ${code}:\n${m.logs}`));
      });
    });
  };

  const stopMember = async (m: ClusterMember, signal: NodeJS.Signals) => {
    const child = m.process;
    m.process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };

  try {
    await Promise.all(members.map(launch));
  } catch (err) {
    for (const m of members) await stopMember(m, 'SIGKILL');
    for (const m of members) await rm(m.dataDir, { recursive: true, force: true });
    throw err;
  }
  const byName = (name: string) => {
    const m = members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  };
  return {
    members,
    endpoints: members.map((m) => m.endpoint),
    kill: (name) => stopMember(byName(name), 'SIGKILL'),
    restart: (name) => launch(byName(name)),
    stop: async () => {
      await Promise.all(members.map((m) => stopMember(m, 'SIGTERM')));
      for (const m of members) await rm(m.dataDir, { recursive: true, force: true });
    },
  };
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { credentials } from '@grpc/grpc-js';
import { defaultServerConfig, type EmbedConfig, type Etcd, startEtcd } from '../src/index.js';

export interface Member {
  etcd: Etcd;
  dir: string;
  address: string;
  kv: InstanceType<typeof etcdserverpb.KVClient>;
  watch: InstanceType<typeof etcdserverpb.WatchClient>;
  maintenance: InstanceType<typeof etcdserverpb.MaintenanceClient>;
  cluster: InstanceType<typeof etcdserverpb.ClusterClient>;
  lease: InstanceType<typeof etcdserverpb.LeaseClient>;
  close(): Promise<void>;
}

/** Starts an in-process member on a free loopback port with its own data dir. */
export async function startMember(
  overrides: Partial<EmbedConfig> = {},
  dir?: string,
): Promise<Member> {
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'etcd-ts-server-'));
  const cfg: EmbedConfig = {
    ...defaultServerConfig({
      name: 'm1',
      dataDir,
      initialAdvertisePeerUrls: ['http://127.0.0.1:12380'],
      advertiseClientUrls: ['http://127.0.0.1:0'],
      heartbeatMs: 10,
      electionMs: 100,
    }),
    listenClientUrls: ['http://127.0.0.1:0'],
    ...overrides,
  };
  const etcd = await startEtcd(cfg);
  const address = etcd.clientAddresses[0]!;
  const creds = credentials.createInsecure();
  const m: Member = {
    etcd,
    dir: dataDir,
    address,
    kv: new etcdserverpb.KVClient(address, creds),
    watch: new etcdserverpb.WatchClient(address, creds),
    maintenance: new etcdserverpb.MaintenanceClient(address, creds),
    cluster: new etcdserverpb.ClusterClient(address, creds),
    lease: new etcdserverpb.LeaseClient(address, creds),
    close: async () => {
      m.kv.close();
      m.watch.close();
      m.maintenance.close();
      m.cluster.close();
      m.lease.close();
      await etcd.close();
    },
  };
  return m;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Promise form of a unary grpc-js client call. */
export { call } from '@etcd-ts/testing';

export const b = (s: string) => Buffer.from(s);

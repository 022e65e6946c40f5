import { type EtcdProcess, realEtcdAvailable, startEtcd } from '@etcd-ts/testing';
import { Client, type ClientOptions } from '../src/index.js';

/**
 * Whether the suites that need a server can run. They start ETCD_BIN (Debian's etcd 3.4
 * by default), so pointing ETCD_BIN at apps/etcd runs the same tests against ours.
 */
export const haveEtcd = realEtcdAvailable();

export interface Fixture {
  etcd: EtcdProcess;
  client: Client;
  /** A client of its own (closed with the fixture). */
  newClient(options?: Partial<ClientOptions>): Client;
  stop(): Promise<void>;
}

export async function startFixture(args: string[] = []): Promise<Fixture> {
  const etcd = await startEtcd({ args });
  const clients: Client[] = [];
  const newClient = (options: Partial<ClientOptions> = {}) => {
    const c = new Client({ endpoints: [etcd.endpoint], dialTimeout: 3_000, ...options });
    clients.push(c);
    return c;
  };
  const client = newClient();
  return {
    etcd,
    client,
    newClient,
    stop: async () => {
      for (const c of clients) c.close();
      await etcd.stop();
    },
  };
}

export const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : Buffer.from(b).toString();

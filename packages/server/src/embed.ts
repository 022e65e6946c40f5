import fs from 'node:fs';
import { etcdserverpb, healthpb } from '@etcd-ts/api';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { authInfoFromCall, type CallIdentity } from './auth.js';
import { GRPC_OVERHEAD_BYTES, type ServerConfig } from './config.js';
import { authService } from './grpc/auth.js';
import { clusterService } from './grpc/cluster.js';
import { healthService } from './grpc/health.js';
import { kvService } from './grpc/kv.js';
import { leaseService } from './grpc/lease.js';
import { maintenanceService } from './grpc/maintenance.js';
import { watchService } from './grpc/watch.js';
import { idToHex } from './ids.js';
import { EtcdServer, type ServerPlugins } from './server.js';

/** Client TLS (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth). */
export interface ClientTLSConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
}

export interface EmbedConfig extends ServerConfig {
  /** URLs to serve clients on (http:// or https://). */
  listenClientUrls: string[];
  clientTls?: ClientTLSConfig;
}

/** Extra gRPC services (lease, auth) the caller wires once their packages are in place. */
export interface EmbedPlugins extends ServerPlugins {
  services?: (s: EtcdServer) => Array<{ definition: object; implementation: object }>;
}

/** A running member with its client listeners (etcd's embed.Etcd). */
export interface Etcd {
  readonly server: EtcdServer;
  /** The bound client addresses (host:port), in listen order. */
  readonly clientAddresses: string[];
  /** Stops accepting, lets in-flight calls finish briefly, then stops the member. */
  close(): Promise<void>;
}

/** Read permission on every key a read-only txn touches (etcd's checkTxnAuth). */
function checkReadOnlyTxn(
  store: EtcdServer['authStore'],
  ai: Awaited<ReturnType<typeof authInfoFromCall>>,
  t: etcdserverpb.TxnRequest,
): void {
  for (const c of t.compare) store.isRangePermitted(ai, c.key, c.rangeEnd);
  for (const op of [...t.success, ...t.failure]) {
    if (op.requestRange !== undefined)
      store.isRangePermitted(ai, op.requestRange.key, op.requestRange.rangeEnd);
    if (op.requestTxn !== undefined) checkReadOnlyTxn(store, ai, op.requestTxn);
  }
}

/** The grpc-js server options etcd's limits translate to. */
export function grpcServerOptions(
  cfg: Pick<ServerConfig, 'maxRequestBytes'>,
): Record<string, number> {
  return {
    'grpc.max_receive_message_length': cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.max_concurrent_streams': 2 ** 32 - 1,
    'grpc.keepalive_time_ms': 2 * 60 * 60 * 1000,
    'grpc.keepalive_timeout_ms': 20 * 1000,
  };
}

function bindAddress(u: URL): string {
  const host = u.hostname.startsWith('[') ? u.hostname : u.hostname;
  return `${host}:${u.port}`;
}

function credentialsFor(u: URL, tls: ClientTLSConfig | undefined): ServerCredentials {
  if (u.protocol === 'http:') return ServerCredentials.createInsecure();
  if (tls === undefined)
    throw new Error(
      `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href} with HTTPS scheme`,
    );
  const ca = tls.trustedCaFile ? fs.readFileSync(tls.trustedCaFile) : null;
  return ServerCredentials.createSsl(
    ca,
    [{ private_key: fs.readFileSync(tls.keyFile), cert_chain: fs.readFileSync(tls.certFile) }],
    tls.clientCertAuth === true,
  );
}

/**
 * Starts a member and serves etcd's v3 gRPC API on its client URLs once it has published
 * itself to the cluster, logging "ready to serve client requests" (what scripts and the
 * test harness wait for).
 */
export async function startEtcd(cfg: EmbedConfig, plugins: EmbedPlugins = {}): Promise<Etcd> {
  const lg = cfg.logger;
  const urls = cfg.listenClientUrls.map((u) => new URL(u));
  for (const u of urls)
    if (u.protocol === 'https:' && cfg.clientTls === undefined)
      throw new Error(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href} with HTTPS scheme`,
      );
  const server = await EtcdServer.start(cfg, plugins);
  const grpc = new Server(grpcServerOptions(cfg));
  const store = server.authStore;
  const userOf = async (call: CallIdentity) => {
    const ai = await authInfoFromCall(store, call);
    return ai === undefined ? undefined : { username: ai.username, authRevision: ai.revision };
  };
  grpc.addService(
    etcdserverpb.KVService,
    kvService(server, async (call, req) => {
      const ai = await authInfoFromCall(store, call);
      // Reads are served here, not applied: check them now (writes are checked as applied).
      if (req.range !== undefined) store.isRangePermitted(ai, req.range.key, req.range.rangeEnd);
      if (req.txn !== undefined) checkReadOnlyTxn(store, ai, req.txn);
      return ai === undefined ? undefined : { username: ai.username, authRevision: ai.revision };
    }),
  );
  grpc.addService(
    etcdserverpb.WatchService,
    watchService(server, async (call, key, rangeEnd) => {
      const ai = await authInfoFromCall(store, call);
      store.isRangePermitted(ai, key, rangeEnd);
    }),
  );
  grpc.addService(
    etcdserverpb.MaintenanceService,
    maintenanceService(server, {
      requireRoot: async (metadata) =>
        store.isAdminPermitted(await authInfoFromCall(store, { metadata })),
    }),
  );
  grpc.addService(etcdserverpb.AuthService, authService(server));
  grpc.addService(
    etcdserverpb.ClusterService,
    clusterService(server, {
      requireRoot: async (call) => store.isAdminPermitted(await authInfoFromCall(store, call)),
    }),
  );
  grpc.addService(healthpb.HealthService, healthService(server));
  grpc.addService(etcdserverpb.LeaseService, leaseService(server, userOf));
  const extra = plugins.services?.(server) ?? [];
  for (const e of extra) grpc.addService(e.definition as never, e.implementation as never);

  const clientAddresses: string[] = [];
  try {
    await server.readyNotify();
    for (const u of urls) {
      const port = await new Promise<number>((resolve, reject) =>
        grpc.bindAsync(bindAddress(u), credentialsFor(u, cfg.clientTls), (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
      clientAddresses.push(`${u.hostname}:${port}`);
      if (u.protocol === 'http:')
        lg.warn(
          { address: `${u.hostname}:${port}` },
          'serving client traffic insecurely; this is strongly discouraged!',
        );
      else lg.info({ address: `${u.hostname}:${port}` }, 'serving client traffic securely');
    }
  } catch (err) {
    grpc.forceShutdown();
    await server.stop();
    throw err;
  }
  lg.info(
    {
      'local-member-id': idToHex(server.memberId),
      'cluster-id': idToHex(server.clusterId),
      'client-urls': clientAddresses,
    },
    'ready to serve client requests',
  );
  let closing: Promise<void> | undefined;
  return {
    server,
    clientAddresses,
    close: () => {
      closing ??= (async () => {
        // Stop accepting; give calls in flight a moment, then cut the rest.
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            grpc.forceShutdown();
            resolve();
          }, 1000);
          grpc.tryShutdown(() => {
            clearTimeout(t);
            resolve();
          });
        });
        await server.stop();
      })();
      return closing;
    },
  };
}

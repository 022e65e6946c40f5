import fs from 'node:fs';
import { etcdserverpb, healthpb } from '@etcd-ts/api';
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { GRPC_OVERHEAD_BYTES, type ServerConfig } from './config.js';
import { authService } from './grpc/auth.js';
import { type CallerOf, callerOf } from './grpc/caller.js';
import { clusterService } from './grpc/cluster.js';
import { healthService } from './grpc/health.js';
import { kvService } from './grpc/kv.js';
import { leaseService } from './grpc/lease.js';
import { maintenanceService } from './grpc/maintenance.js';
import { watchService } from './grpc/watch.js';
import { idToHex } from './ids.js';
import { listenPeers, type PeerListeners } from './peer_listener.js';
import { EtcdServer, type ServerPlugins } from './server.js';
import { V3Server } from './v3/index.js';

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
  /** URLs to serve peers on (etcd's --listen-peer-urls); none: a member that talks to no one. */
  listenPeerUrls?: string[];
  clientTls?: ClientTLSConfig;
}

/** Extra gRPC services served beside etcd's on the client URLs. */
export interface EmbedPlugins extends ServerPlugins {
  services?: (
    v3: V3Server,
    callerOf: CallerOf,
  ) => Array<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>;
}

/** How long calls in flight may finish when a member closes, before they are cut. */
const SHUTDOWN_GRACE_MS = 1000;

/** A running member with its client listeners (etcd's embed.Etcd). */
export interface Etcd {
  readonly server: EtcdServer;
  /** The member's typed v3 API (what the gRPC services call). */
  readonly v3: V3Server;
  /** The bound client addresses (host:port), in listen order. */
  readonly clientAddresses: string[];
  /** The bound peer addresses (host:port), in listen order. */
  readonly peerAddresses: string[];
  /** Stops accepting, lets in-flight calls finish briefly, then stops the member. */
  close(): Promise<void>;
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
  const v3 = new V3Server(server);
  const store = server.authStore;
  const callers: CallerOf = (call) => callerOf(store, server.clock, call);
  grpc.addService(etcdserverpb.KVService, kvService(v3.kv, callers));
  grpc.addService(etcdserverpb.WatchService, watchService(v3.watch, callers));
  grpc.addService(etcdserverpb.LeaseService, leaseService(v3.lease, callers));
  grpc.addService(etcdserverpb.AuthService, authService(v3.auth, callers));
  grpc.addService(etcdserverpb.ClusterService, clusterService(v3.cluster, callers));
  grpc.addService(etcdserverpb.MaintenanceService, maintenanceService(v3.maintenance, callers));
  grpc.addService(healthpb.HealthService, healthService(server));
  for (const e of plugins.services?.(v3, callers) ?? [])
    grpc.addService(e.definition, e.implementation);

  const clientAddresses: string[] = [];
  let peers: PeerListeners | undefined;
  try {
    // Peers first: publishing needs a leader, and a leader needs the others to hear it.
    peers = await listenPeers(server, v3, cfg.listenPeerUrls ?? [], cfg.peerTls);
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
    await peers?.close();
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
    v3,
    clientAddresses,
    peerAddresses: peers.addresses,
    close: () => {
      closing ??= (async () => {
        // Stop accepting; give calls in flight a moment, then cut the rest.
        await new Promise<void>((resolve) => {
          const t = server.clock.after(SHUTDOWN_GRACE_MS, () => {
            grpc.forceShutdown();
            resolve();
          });
          grpc.tryShutdown(() => {
            t.cancel();
            resolve();
          });
        });
        await server.stop();
        await peers?.close();
      })();
      return closing;
    },
  };
}

import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { etcdserverpb, healthpb } from '@etcd-ts/api';
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { GRPC_OVERHEAD_BYTES, type ServerConfig } from './config.js';
import { checkInitialHashKV } from './corrupt.js';
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
import {
  checkConnection,
  logRejected,
  type ServerTLSInfo,
  selfCert,
  serverTlsOptions,
  type TLSProtocolConfig,
} from './tls.js';
import { V3Server } from './v3/index.js';

/**
 * Client TLS (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth,
 * --client-crl-file, --client-cert-allowed-hostname). A trusted CA file alone also makes
 * client certificates required and verified, as in etcd.
 */
export interface ClientTLSConfig extends TLSProtocolConfig {
  certFile: string;
  keyFile: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  /** Clients whose certificate serial this CRL revokes are refused after the handshake. */
  crlFile?: string;
  /** The verified client certificate must be valid for this host name or IP. */
  allowedHostname?: string;
  /** A certificate made by --auto-tls. */
  selfSigned?: boolean;
}

export interface EmbedConfig extends ServerConfig {
  /** URLs to serve clients on (http:// or https://). */
  listenClientUrls: string[];
  /** URLs to serve peers on (etcd's --listen-peer-urls); none: a member that talks to no one. */
  listenPeerUrls?: string[];
  clientTls?: ClientTLSConfig;
  /**
   * etcd's --auto-tls: without --cert-file/--key-file, a self-signed certificate for the
   * client URLs' hosts is made in <data-dir>/fixtures/client (reused when there).
   */
  clientAutoTls?: boolean;
  /** etcd's --peer-auto-tls: the same for peers, in <data-dir>/fixtures/peer. */
  peerAutoTls?: boolean;
  /** etcd 3.5's --self-signed-cert-validity: years an auto TLS certificate is valid (1). */
  selfSignedCertValidity?: number;
  /** etcd's --cipher-suites, --tls-min-version, --tls-max-version, for clients and peers. */
  tlsProtocol?: TLSProtocolConfig;
  /** etcd's --max-concurrent-streams: streams one client connection may open at a time. */
  maxConcurrentStreams?: number;
  /** etcd's --grpc-keepalive-interval (ms; 0 disables the server's pings). */
  grpcKeepAliveIntervalMs?: number;
  /** etcd's --grpc-keepalive-timeout (ms). */
  grpcKeepAliveTimeoutMs?: number;
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

/** etcd's defaults: --max-concurrent-streams (math.MaxUint32), --grpc-keepalive-*. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 2 ** 32 - 1;
export const DEFAULT_GRPC_KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
export const DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS = 20 * 1000;

/** The grpc-js server options etcd's limits translate to. */
export function grpcServerOptions(
  cfg: Pick<ServerConfig, 'maxRequestBytes'> &
    Pick<
      EmbedConfig,
      'maxConcurrentStreams' | 'grpcKeepAliveIntervalMs' | 'grpcKeepAliveTimeoutMs'
    >,
): Record<string, number> {
  return {
    'grpc.max_receive_message_length': cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.max_concurrent_streams': cfg.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    // 0 disables the server's pings (grpc-js pings only for 0 < time < its maximum).
    'grpc.keepalive_time_ms': cfg.grpcKeepAliveIntervalMs ?? DEFAULT_GRPC_KEEPALIVE_INTERVAL_MS,
    'grpc.keepalive_timeout_ms': cfg.grpcKeepAliveTimeoutMs ?? DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS,
  };
}

function bindAddress(u: URL): string {
  return `${u.hostname}:${u.port}`;
}

const httpsWithoutTls = (u: URL) =>
  new Error(
    `TLS key/cert (--cert-file, --key-file) must be provided for client url ${u.href} with HTTPS scheme`,
  );

/** The hosts of URLs (what auto TLS's certificates are made for). */
function hostsOf(urls: string[]): string[] {
  return urls.map((u) => new URL(u).hostname);
}

/**
 * etcd's ClientSelfCert/PeerSelfCert: with --auto-tls (--peer-auto-tls) and no certificate
 * given, a self-signed one is made under <data-dir>/fixtures; certificates given win, with
 * etcd's warning. --cipher-suites and the TLS versions are copied into both.
 */
export async function resolveTls(cfg: EmbedConfig): Promise<EmbedConfig> {
  const lg = cfg.logger;
  const out: EmbedConfig = { ...cfg };
  const years = cfg.selfSignedCertValidity ?? 1;
  if (cfg.clientAutoTls === true) {
    if (cfg.clientTls !== undefined) lg.warn({}, 'ignoring client auto TLS since certs given');
    else {
      const c = await selfCert(
        lg,
        path.join(cfg.dataDir, 'fixtures', 'client'),
        hostsOf(cfg.listenClientUrls),
        years,
      );
      out.clientTls = { ...c, selfSigned: true };
    }
  }
  if (cfg.peerAutoTls === true) {
    if (cfg.peerTls !== undefined) lg.warn({}, 'ignoring peer auto TLS since certs given');
    else {
      const c = await selfCert(
        lg,
        path.join(cfg.dataDir, 'fixtures', 'peer'),
        hostsOf(cfg.listenPeerUrls ?? []),
        years,
        true,
      );
      out.peerTls = { ...c, selfSigned: true };
    }
  }
  const p = cfg.tlsProtocol ?? {};
  if (out.clientTls !== undefined) out.clientTls = { ...p, ...out.clientTls };
  if (out.peerTls !== undefined) {
    out.peerTls = { ...p, ...out.peerTls };
    lg.info(
      {
        'cert-file': out.peerTls.certFile,
        'key-file': out.peerTls.keyFile,
        'trusted-ca-file': out.peerTls.trustedCaFile ?? '',
        'client-cert-auth': out.peerTls.clientCertAuth === true,
        'crl-file': out.peerTls.crlFile ?? '',
      },
      'starting with peer TLS',
    );
  }
  return out;
}

/** A client listener: a bound port and how to stop accepting on it. */
interface ClientListener {
  address: string;
  close(): void;
}

/**
 * Serves gRPC on an https client URL. node:tls does the handshake (etcd's server TLS
 * config: client certificates, suites, versions, ALPN h2); etcd's post-handshake checks
 * (the CRL, --client-cert-allowed-hostname) run before the connection is handed to gRPC.
 */
async function listenTls(
  grpc: Server,
  u: URL,
  info: ServerTLSInfo,
  lg: EmbedConfig['logger'],
): Promise<ClientListener> {
  const injector = grpc.createConnectionInjector(ServerCredentials.createInsecure());
  const srv = tls.createServer({ ...serverTlsOptions(info), ALPNProtocols: ['h2'] });
  srv.on('secureConnection', (sock: tls.TLSSocket) => {
    sock.on('error', () => {});
    checkConnection(sock, { info }).then(
      (reason) => {
        if (reason !== undefined) {
          logRejected(lg, sock, reason);
          sock.destroy();
        } else injector.injectConnection(sock);
      },
      (err) => {
        logRejected(lg, sock, String(err));
        sock.destroy();
      },
    );
  });
  srv.on('tlsClientError', (err, sock) => {
    lg.debug(
      { 'remote-addr': `${sock.remoteAddress}:${sock.remotePort}`, error: err.message },
      'rejected connection',
    );
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(Number(u.port || 443), u.hostname.replace(/^\[|\]$/g, ''), () => {
      srv.off('error', reject);
      resolve();
    });
  });
  const port = (srv.address() as net.AddressInfo).port;
  return {
    address: `${u.hostname}:${port}`,
    // The gRPC sessions it handed over are the gRPC server's to close (tryShutdown).
    close: () => srv.close(),
  };
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
    if (u.protocol === 'https:' && cfg.clientTls === undefined && cfg.clientAutoTls !== true)
      throw httpsWithoutTls(u);
  cfg = await resolveTls(cfg);
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
  const tlsListeners: ClientListener[] = [];
  let peers: PeerListeners | undefined;
  try {
    // Peers first: publishing needs a leader, and a leader needs the others to hear it.
    peers = await listenPeers(server, v3, cfg.listenPeerUrls ?? [], cfg.peerTls);
    if (cfg.initialCorruptCheck) await checkInitialHashKV(server);
    await server.readyNotify();
    for (const u of urls) {
      let address: string;
      if (u.protocol === 'https:') {
        if (cfg.clientTls === undefined) throw httpsWithoutTls(u);
        const l = await listenTls(grpc, u, cfg.clientTls, lg);
        tlsListeners.push(l);
        address = l.address;
      } else {
        const port = await new Promise<number>((resolve, reject) =>
          grpc.bindAsync(bindAddress(u), ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
          ),
        );
        address = `${u.hostname}:${port}`;
      }
      clientAddresses.push(address);
      if (u.protocol === 'http:')
        lg.warn({ address }, 'serving client traffic insecurely; this is strongly discouraged!');
      else lg.info({ address }, 'serving client traffic securely');
    }
  } catch (err) {
    for (const l of tlsListeners) l.close();
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
        for (const l of tlsListeners) l.close();
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

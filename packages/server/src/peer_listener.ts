import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import type { PeerTLSConfig } from './config.js';
import { servePeer } from './peer_http.js';
import type { EtcdServer } from './server.js';
import { checkConnection, logRejected, serverTlsOptions } from './tls.js';
import type { V3Server } from './v3/index.js';

/** The peer listeners of a member, bound. */
export interface PeerListeners {
  /** host:port of each, in listen order. */
  addresses: string[];
  close(): Promise<void>;
}

function handler(s: EtcdServer, v3: V3Server): http.RequestListener {
  return (req, res) => {
    try {
      if (s.peers.transport.handle(req, res)) return;
      if (servePeer(s, v3, req, res)) return;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('404 page not found\n');
    } catch (err) {
      // A peer's request never takes the member down.
      s.lg.warn({ error: String(err), path: req.url }, 'failed to serve a peer request');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  };
}

/**
 * Serves the peer protocol on --listen-peer-urls (etcd's servePeers): raft's streams,
 * pipeline and snapshots, the members list, promotions, leases and /version. Over https
 * (etcd's peer TLSInfo): client certificates required and verified with
 * --peer-client-cert-auth or --peer-trusted-ca-file; once the handshake is done a
 * connection is refused when its certificate's common name is not --peer-cert-allowed-cn
 * (or it is not valid for --peer-cert-allowed-hostname), when its SANs do not name the
 * address it comes from (unless --experimental-peer-skip-client-san-verification), or
 * when --peer-crl-file revokes it.
 */
export async function listenPeers(
  s: EtcdServer,
  v3: V3Server,
  urls: string[],
  tlsInfo: PeerTLSConfig | undefined,
): Promise<PeerListeners> {
  const servers: net.Server[] = [];
  const httpServers: http.Server[] = [];
  const addresses: string[] = [];
  const close = async () => {
    await Promise.all(
      servers.map(
        (srv) =>
          new Promise<void>((resolve) => {
            srv.close(() => resolve());
          }),
      ),
    );
  };
  // Streams live as long as the peers do; snapshots may take minutes to arrive.
  const options = { requestTimeout: 0, keepAliveTimeout: 30_000 };
  try {
    for (const raw of urls) {
      const u = new URL(raw);
      let srv: net.Server;
      if (u.protocol === 'https:') {
        if (tlsInfo === undefined)
          throw new Error(
            `TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url ${u.href} with HTTPS scheme`,
          );
        // node:tls does the handshake; etcd's checks run before HTTP is served on it.
        const inner = http.createServer(options, handler(s, v3));
        httpServers.push(inner);
        const t = tls.createServer(serverTlsOptions(tlsInfo));
        t.on('secureConnection', (sock: tls.TLSSocket) => {
          sock.on('error', () => {});
          checkConnection(sock, {
            info: tlsInfo,
            checkSan: tlsInfo.skipClientSanVerify !== true,
          }).then(
            (reason) => {
              if (reason === undefined) inner.emit('connection', sock);
              else {
                logRejected(s.lg, sock, reason);
                sock.destroy();
              }
            },
            (err) => {
              logRejected(s.lg, sock, String(err));
              sock.destroy();
            },
          );
        });
        t.on('tlsClientError', (err, sock) =>
          s.lg.debug(
            { 'remote-addr': `${sock.remoteAddress}:${sock.remotePort}`, error: err.message },
            'rejected connection',
          ),
        );
        srv = t;
      } else {
        const h = http.createServer(options, handler(s, v3));
        httpServers.push(h);
        srv = h;
      }
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(
          Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
          u.hostname.replace(/^\[|\]$/g, ''),
          () => {
            srv.off('error', reject);
            resolve();
          },
        );
      });
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      addresses.push(`${u.hostname}:${port}`);
      s.lg.info({ address: `${u.hostname}:${port}` }, 'serving peer traffic');
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  async function closeAll() {
    const done = close();
    for (const h of httpServers) h.closeAllConnections();
    // Connections handed over by the TLS listeners belong to the inner HTTP servers; the
    // TLS sockets are the same objects, so closing them there ends both.
    await done;
  }
  return { addresses, close: closeAll };
}

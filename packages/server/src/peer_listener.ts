import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { PeerTLSConfig } from './config.js';
import { servePeer } from './peer_http.js';
import type { EtcdServer } from './server.js';
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
 * pipeline and snapshots, the members list, promotions, leases and /version; over https
 * with --peer-cert-file/--peer-key-file, requiring and checking client certificates with
 * --peer-client-cert-auth, and refusing a certificate whose common name is not
 * --peer-cert-allowed-cn at the handshake.
 */
export async function listenPeers(
  s: EtcdServer,
  v3: V3Server,
  urls: string[],
  tls: PeerTLSConfig | undefined,
): Promise<PeerListeners> {
  const servers: http.Server[] = [];
  const addresses: string[] = [];
  const close = async () => {
    await Promise.all(
      servers.map(
        (srv) =>
          new Promise<void>((resolve) => {
            srv.close(() => resolve());
            srv.closeAllConnections();
          }),
      ),
    );
  };
  try {
    for (const raw of urls) {
      const u = new URL(raw);
      // Streams live as long as the peers do; snapshots may take minutes to arrive.
      const options = { requestTimeout: 0, keepAliveTimeout: 30_000 };
      let srv: http.Server;
      if (u.protocol === 'https:') {
        if (tls === undefined)
          throw new Error(
            `TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url ${u.href} with HTTPS scheme`,
          );
        const clientAuth = tls.clientCertAuth === true || tls.trustedCaFile !== undefined;
        srv = https.createServer(
          {
            ...options,
            cert: fs.readFileSync(tls.certFile),
            key: fs.readFileSync(tls.keyFile),
            ...(tls.trustedCaFile === undefined ? {} : { ca: fs.readFileSync(tls.trustedCaFile) }),
            requestCert: clientAuth,
            rejectUnauthorized: tls.clientCertAuth === true,
          },
          handler(s, v3),
        );
        const allowed = tls.allowedCN;
        if (allowed !== undefined)
          srv.on('secureConnection', (sock: TLSSocket) => {
            const cn = sock.getPeerCertificate()?.subject?.CN;
            const names = Array.isArray(cn) ? cn : [cn];
            if (!names.includes(allowed)) {
              s.lg.warn(
                { 'remote-addr': sock.remoteAddress, cn },
                'rejected peer certificate: common name not allowed',
              );
              sock.destroy();
            }
          });
      } else {
        srv = http.createServer(options, handler(s, v3));
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
    await close();
    throw err;
  }
  return { addresses, close };
}

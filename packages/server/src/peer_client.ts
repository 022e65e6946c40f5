import http from 'node:http';
import https from 'node:https';
import type { PeerDialTLS } from './bootstrap.js';
import type { Clock } from './clock.js';

/** A peer's answer to one request, body whole (these answers are small: members, leases). */
export interface PeerResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The largest answer a peer request reads (a member list, a lease answer): a bound, not a guess. */
export const MAX_PEER_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * One request to a peer's URL (etcd's peer round tripper): https with the peer TLS when
 * the URL says so, a deadline on the whole exchange, the answer read up to
 * MAX_PEER_RESPONSE_BYTES.
 */
export function peerRequest(
  url: string,
  opts: {
    method: 'GET' | 'POST';
    body?: Uint8Array;
    contentType?: string;
    tls: PeerDialTLS | undefined;
    timeoutMs: number;
    clock: Clock;
  },
): Promise<PeerResponse> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise<PeerResponse>((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/protobuf';
      headers['content-length'] = opts.body.length;
    }
    const req = lib.request(
      u,
      {
        method: opts.method,
        headers,
        ...(u.protocol === 'https:' ? (opts.tls ?? { rejectUnauthorized: false }) : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_PEER_RESPONSE_BYTES) {
            req.destroy(
              new Error(`peer answer from ${url} is larger than ${MAX_PEER_RESPONSE_BYTES} bytes`),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          timer.cancel();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          });
        });
        res.on('error', (err) => {
          timer.cancel();
          reject(err);
        });
      },
    );
    const timer = opts.clock.after(opts.timeoutMs, () =>
      req.destroy(new Error(`peer request to ${url} timed out after ${opts.timeoutMs}ms`)),
    );
    req.on('error', (err) => {
      timer.cancel();
      reject(err);
    });
    req.end(opts.body === undefined ? undefined : Buffer.from(opts.body));
  });
}

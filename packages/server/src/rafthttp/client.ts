// The outgoing side's HTTP: two pools of connections per transport, as etcd keeps two
// round trippers (long-lived streams on their own, pipeline and snapshot POSTs sharing
// keep-alive connections), a dial timeout, and bounded reads of answers.

import http, {
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import https from 'node:https';
import type { Clock } from '../clock.js';

export interface PeerTLS {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

export type ConnKind = 'stream' | 'pipeline';

export interface PeerRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: OutgoingHttpHeaders;
  kind: ConnKind;
}

/** A request's URL: the peer URL with the path replaced, as etcd sets url.Path. */
export function requestUrl(peerUrl: string, path: string): URL {
  const u = new URL(peerUrl);
  u.pathname = path;
  u.search = '';
  u.hash = '';
  return u;
}

export class PeerHttpClient {
  private readonly agents = new Map<string, http.Agent>();

  constructor(
    private readonly clock: Clock,
    private readonly dialTimeoutMs: number,
    private readonly tls: PeerTLS | undefined,
  ) {}

  /**
   * Opens a request (the caller writes its body and ends it). The connection must be up
   * within the dial timeout or the request fails with an i/o timeout.
   */
  request(peerUrl: string, r: PeerRequest): ClientRequest {
    const u = requestUrl(peerUrl, r.path);
    const secure = u.protocol === 'https:';
    const agent = this.agent(r.kind, secure);
    const req = (secure ? https : http).request(u, {
      method: r.method,
      headers: r.headers,
      agent,
    });
    // An error surfaces through the promise a caller awaits; never as an uncaught event.
    req.on('error', () => {});
    const timer = this.clock.after(this.dialTimeoutMs, () => {
      req.destroy(new Error(`dial tcp ${u.host}: i/o timeout`));
    });
    timer.unref();
    req.once('socket', (socket) => {
      if ((socket as { connecting?: boolean }).connecting) {
        socket.once(secure ? 'secureConnect' : 'connect', () => timer.cancel());
      } else {
        timer.cancel();
      }
    });
    req.once('close', () => timer.cancel());
    return req;
  }

  /** Closes every pooled connection; open requests are the callers' to abort. */
  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private agent(kind: ConnKind, secure: boolean): http.Agent {
    const key = `${kind}:${secure ? 'https' : 'http'}`;
    let a = this.agents.get(key);
    if (a !== undefined) return a;
    // A stream holds its connection for its whole life and is never reused after it
    // breaks; POSTs reuse idle connections (etcd allows 1024 idle per host).
    const keepAlive = kind === 'pipeline';
    const opts = { keepAlive, maxFreeSockets: 1024, scheduling: 'lifo' as const };
    a = secure
      ? new https.Agent({
          ...opts,
          ca: this.tls?.ca,
          cert: this.tls?.cert,
          key: this.tls?.key,
          rejectUnauthorized: this.tls?.rejectUnauthorized ?? true,
        })
      : new http.Agent(opts);
    this.agents.set(key, a);
    return a;
  }
}

/** The response to a request, or its error (refused, reset, timed out, aborted). */
export function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.once('close', () => reject(new Error('connection closed before a response')));
  });
}

/** Resolves once `w` can take more ('drain') or is gone ('close'). */
export function drained(w: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/**
 * Reads an answer's body as text, at most `limit` bytes of it (the rest is dropped with the
 * connection); `timeoutMs`, when given, bounds the whole read.
 */
export async function readText(
  res: IncomingMessage,
  limit: number,
  clock?: Clock,
  timeoutMs?: number,
): Promise<string> {
  const timer =
    clock !== undefined && timeoutMs !== undefined
      ? clock.after(timeoutMs, () => res.destroy(new Error('timeout reading the answer')))
      : undefined;
  timer?.unref();
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (n + chunk.length > limit) {
        parts.push(chunk.subarray(0, limit - n));
        n = limit;
        res.destroy();
        break;
      }
      parts.push(chunk);
      n += chunk.length;
    }
  } finally {
    timer?.cancel();
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Reads and drops an answer's body (etcd's GracefulClose), bounded like readText. */
export async function discard(res: IncomingMessage): Promise<void> {
  try {
    await readText(res, 64 * 1024);
  } catch {
    // the answer is being dropped anyway
  }
}

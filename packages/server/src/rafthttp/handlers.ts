// The peer listener's /raft paths (etcd's pipelineHandler, snapshotHandler, streamHandler
// and the prober's health handler): each checks the request the way etcd does, in etcd's
// order, and refuses with etcd's status and text, so a Go peer reads our refusals as its
// own.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeMessage, type Message, MessageType, messageTypeName } from '@etcd-ts/raft';
import type { Clock } from '../clock.js';
import { ByteQueue, ERR_EXCEED_SIZE_LIMIT, frameLength, RaftHttpCodecError } from './codec.js';
import type { SnapshotDBStore, TransportContext } from './context.js';
import { CONN_READ_TIMEOUT_MS } from './limits.js';
import type { Peer } from './peer.js';
import {
  checkClusterCompatibility,
  goDuration,
  goJsonTime,
  goPathBase,
  goPathDir,
  H_CLUSTER_ID,
  H_MIN_CLUSTER_VERSION,
  H_PEER_URLS,
  H_RAFT_TO,
  H_SERVER_FROM,
  H_SERVER_VERSION,
  header,
  humanizeBytes,
  idString,
  PeerHTTPError,
  PROBING_PATH,
  parseId,
  RAFT_PREFIX,
  RAFT_SNAPSHOT_PATH,
  RAFT_STREAM_PREFIX,
  type StreamType,
  streamEndpoint,
} from './wire.js';

export interface HandlerContext {
  readonly ctx: TransportContext;
  readonly snapshots: SnapshotDBStore;
  peer(id: bigint): Peer | undefined;
  /** etcd's AddRemote for a sender we do not know (it joined after our last applied entry). */
  addRemote(id: bigint, urls: string[]): void;
}

/** Serves the /raft paths; false for any other path. */
export function serveRaft(h: HandlerContext, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path !== RAFT_PREFIX && !path.startsWith(`${RAFT_PREFIX}/`)) return false;
  let served: Promise<void> | undefined;
  if (path === RAFT_PREFIX) served = servePipeline(h, req, res);
  else if (path.startsWith(`${RAFT_STREAM_PREFIX}/`)) serveStream(h, req, res, path);
  else if (path === RAFT_SNAPSHOT_PATH) served = serveSnapshot(h, req, res);
  else if (path === PROBING_PATH) serveProbing(h.ctx.clock, res);
  else if (path === RAFT_STREAM_PREFIX) redirect(req, res, `${RAFT_STREAM_PREFIX}/`);
  else httpError(res, 404, '404 page not found');
  served?.catch((err: unknown) => {
    h.ctx.lg.warn({ error: (err as Error).message, path }, 'failed to serve peer request');
    if (!res.headersSent) httpError(res, 500, 'Internal Server Error');
    else res.destroy();
  });
  return true;
}

/** Go's http.Error: the text and a newline, as plain text that must not be sniffed. */
export function httpError(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.writableEnded) return;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.statusCode = status;
  res.end(`${text}\n`);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  httpError(res, 405, 'Method Not Allowed');
}

/** What Go's ServeMux answers for a subtree's root asked without its slash. */
function redirect(req: IncomingMessage, res: ServerResponse, to: string): void {
  res.setHeader('Location', to);
  res.statusCode = 301;
  if (req.method === 'GET' || req.method === 'HEAD') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
  }
  res.end(req.method === 'GET' ? `<a href="${to}">Moved Permanently</a>.\n\n` : undefined);
}

/** The prober's answer: {"OK":true,"Now":<time>}, whatever the method (as etcd's). */
function serveProbing(clock: Clock, res: ServerResponse): void {
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.statusCode = 200;
  res.end(`${JSON.stringify({ OK: true, Now: goJsonTime(clock.now()) })}\n`);
}

/** Refuses the request when its versions or cluster id do not match ours; true if refused. */
function refuseIncompatible(h: HandlerContext, req: IncomingMessage, res: ServerResponse): boolean {
  const ctx = h.ctx;
  const refusal = checkClusterCompatibility(req.headers, ctx.versions, ctx.clusterId);
  if (refusal === undefined) return false;
  const fields = {
    'local-member-id': idString(ctx.localId),
    'local-member-cluster-id': idString(ctx.clusterId),
    'local-member-server-version': ctx.versions.server.text,
    'local-member-server-minimum-cluster-version': ctx.versions.minCluster.text,
    'remote-peer-server-name': header(req.headers, H_SERVER_FROM),
    'remote-peer-server-version': header(req.headers, H_SERVER_VERSION),
    'remote-peer-server-minimum-cluster-version': header(req.headers, H_MIN_CLUSTER_VERSION),
  };
  if (refusal.reason !== undefined) {
    ctx.lg.warn({ ...fields, error: refusal.reason }, 'failed to check version compatibility');
  } else {
    ctx.lg.warn(
      { ...fields, 'remote-peer-cluster-id': header(req.headers, H_CLUSTER_ID) },
      'request cluster ID mismatch',
    );
  }
  httpError(res, refusal.status, refusal.text);
  return true;
}

/** etcd's addRemoteFromRequest: a sender that names its URLs becomes reachable. */
function addRemoteFromRequest(h: HandlerContext, req: IncomingMessage): void {
  const from = parseId(header(req.headers, H_SERVER_FROM));
  const urls = header(req.headers, H_PEER_URLS);
  if (from !== undefined && urls !== '') h.addRemote(from, urls.split(','));
}

/**
 * A request body read chunk by chunk, each read bounded by the read timeout as etcd's
 * timeout listener bounds each read (time spent saving what was read does not count).
 */
class BodyReader {
  private readonly it: AsyncIterator<Buffer>;

  constructor(
    private readonly req: IncomingMessage,
    private readonly clock: Clock,
  ) {
    this.it = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async next(): Promise<Uint8Array | undefined> {
    const t = this.clock.after(CONN_READ_TIMEOUT_MS, () => {
      this.req.destroy(new Error('read: i/o timeout'));
    });
    t.unref();
    try {
      const r = await this.it.next();
      return r.done ? undefined : r.value;
    } finally {
      t.cancel();
    }
  }

  async readAll(limit: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let c = await this.next(); c !== undefined; c = await this.next()) {
      n += c.length;
      if (n > limit) throw new RaftHttpCodecError(ERR_EXCEED_SIZE_LIMIT);
      parts.push(c);
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Reads one message frame into q and decodes it; what follows it stays in q. */
  async readFrame(q: ByteQueue, limit: number): Promise<[Message, number]> {
    const fill = async (n: number) => {
      while (q.length < n) {
        const c = await this.next();
        if (c === undefined) throw new Error(q.length === 0 ? 'EOF' : 'unexpected EOF');
        q.push(c);
      }
    };
    await fill(8);
    const n = frameLength(q.take(8));
    if (n > limit) throw new RaftHttpCodecError(ERR_EXCEED_SIZE_LIMIT);
    await fill(n);
    return [decodeMessage(q.take(n)), n];
  }

  /** What is left in q, then the rest of the body. */
  async *rest(q: ByteQueue): AsyncGenerator<Uint8Array> {
    for (const c of q.drain()) yield c;
    for (let c = await this.next(); c !== undefined; c = await this.next()) yield c;
  }
}

/** Answers with raft's rejection: its own status and JSON, or 500 and etcd's text. */
function answerProcessError(res: ServerResponse, err: unknown, text: string): void {
  if (err instanceof PeerHTTPError) {
    res.setHeader('Content-Type', 'application/json');
    res.statusCode = err.status;
    res.end(err.body());
    return;
  }
  httpError(res, 500, text);
}

async function servePipeline(
  h: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
  const ctx = h.ctx;
  res.setHeader(H_CLUSTER_ID, idString(ctx.clusterId));
  if (refuseIncompatible(h, req, res)) return;
  addRemoteFromRequest(h, req);

  const local = { 'local-member-id': idString(ctx.localId) };
  const declared = Number(header(req.headers, 'content-length') || '0');
  if (declared > ctx.maxMessageBytes) {
    res.setHeader('Connection', 'close');
    return httpError(res, 413, ERR_EXCEED_SIZE_LIMIT);
  }
  let body: Uint8Array;
  try {
    body = await new BodyReader(req, ctx.clock).readAll(ctx.maxMessageBytes);
  } catch (err) {
    const msg = (err as Error).message;
    ctx.lg.warn({ ...local, error: msg }, 'failed to read Raft message');
    res.setHeader('Connection', 'close');
    if (msg === ERR_EXCEED_SIZE_LIMIT) return httpError(res, 413, ERR_EXCEED_SIZE_LIMIT);
    return httpError(res, 400, 'error reading raft message');
  }
  let m: Message;
  try {
    m = decodeMessage(body);
  } catch (err) {
    ctx.lg.warn({ ...local, error: (err as Error).message }, 'failed to unmarshal Raft message');
    return httpError(res, 400, 'error unmarshalling raft message');
  }
  try {
    await ctx.raft.process(m);
  } catch (err) {
    if (!(err instanceof PeerHTTPError)) {
      ctx.lg.warn({ ...local, error: (err as Error).message }, 'failed to process Raft message');
      // etcd drops the connection after this answer
      res.setHeader('Connection', 'close');
    }
    return answerProcessError(res, err, 'error processing raft message');
  }
  // 204 only once raft has the message, so a MsgSnap's sender can report it delivered.
  res.statusCode = 204;
  res.end();
}

async function serveSnapshot(
  h: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const ctx = h.ctx;
  const start = ctx.clock.now();
  if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
  res.setHeader(H_CLUSTER_ID, idString(ctx.clusterId));
  if (refuseIncompatible(h, req, res)) return;
  addRemoteFromRequest(h, req);

  const local = idString(ctx.localId);
  const body = new BodyReader(req, ctx.clock);
  const q = new ByteQueue();
  let m: Message;
  let size: number;
  try {
    [m, size] = await body.readFrame(q, ctx.maxMessageBytes);
  } catch (err) {
    const msg = (err as Error).message;
    ctx.lg.warn(
      { 'local-member-id': local, 'remote-snapshot-sender-id': '0', error: msg },
      'failed to decode Raft message',
    );
    res.setHeader('Connection', 'close');
    return httpError(res, 400, `failed to decode raft message (${msg})`);
  }
  const from = idString(m.from);
  const fields = { 'local-member-id': local, 'remote-snapshot-sender-id': from };
  if (m.type !== MessageType.MsgSnap) {
    ctx.lg.warn(
      { ...fields, 'message-type': messageTypeName(m.type) },
      'unexpected Raft message type',
    );
    res.setHeader('Connection', 'close');
    return httpError(res, 400, 'wrong raft message type');
  }
  const index = m.snapshot?.metadata.index ?? 0;
  ctx.lg.info(
    {
      ...fields,
      'incoming-snapshot-index': index,
      'incoming-snapshot-message-size-bytes': size,
      'incoming-snapshot-message-size': humanizeBytes(size),
    },
    'receiving database snapshot',
  );

  // The database is saved (synced and renamed into place) before raft hears of the
  // snapshot, so that applying it finds the file.
  let n: number;
  try {
    n = await h.snapshots.saveDBFrom(body.rest(q), index);
  } catch (err) {
    const msg = (err as Error).message;
    ctx.lg.warn(
      { ...fields, 'incoming-snapshot-index': index, error: msg },
      'failed to save incoming database snapshot',
    );
    res.setHeader('Connection', 'close');
    return httpError(res, 500, `failed to save KV snapshot (${msg})`);
  }
  ctx.lg.info(
    {
      ...fields,
      'incoming-snapshot-index': index,
      'incoming-snapshot-size-bytes': n,
      'incoming-snapshot-size': humanizeBytes(n),
      'download-took': goDuration(ctx.clock.now() - start),
    },
    'received and saved database snapshot',
  );

  try {
    await ctx.raft.process(m);
  } catch (err) {
    const msg = (err as Error).message;
    if (!(err instanceof PeerHTTPError)) {
      ctx.lg.warn({ ...fields, error: msg }, 'failed to process Raft message');
    }
    return answerProcessError(res, err, `failed to process raft message (${msg})`);
  }
  res.statusCode = 204;
  res.end();
}

function serveStream(
  h: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): void {
  if (req.method !== 'GET') {
    methodNotAllowed(res, 'GET');
    return;
  }
  const ctx = h.ctx;
  res.setHeader(H_SERVER_VERSION, ctx.serverVersion);
  res.setHeader(H_CLUSTER_ID, idString(ctx.clusterId));
  if (refuseIncompatible(h, req, res)) return;

  const local = idString(ctx.localId);
  const fields = { 'local-member-id': local, 'remote-peer-id-stream-handler': local };
  let t: StreamType;
  const dir = goPathDir(path);
  if (dir === streamEndpoint('msgappv2')) t = 'msgappv2';
  else if (dir === streamEndpoint('message')) t = 'message';
  else {
    ctx.lg.debug({ ...fields, path }, 'ignored unexpected streaming request path');
    httpError(res, 404, 'invalid path');
    return;
  }

  const fromStr = goPathBase(path);
  const from = parseId(fromStr);
  if (from === undefined) {
    ctx.lg.warn({ ...fields, path: fromStr }, 'failed to parse path into ID');
    httpError(res, 404, 'invalid from');
    return;
  }
  const fromFields = { ...fields, 'remote-peer-id-from': idString(from) };
  if (ctx.raft.isIDRemoved(from)) {
    ctx.lg.warn(fromFields, 'rejected stream from remote peer because it was removed');
    httpError(res, 410, 'removed member');
    return;
  }
  const p = h.peer(from);
  if (p === undefined) {
    // A member of another cluster with our id, or one that joined after what we applied.
    const urls = header(req.headers, H_PEER_URLS);
    if (urls !== '') h.addRemote(from, urls.split(','));
    ctx.lg.warn(
      { ...fromFields, 'cluster-id': idString(ctx.clusterId) },
      'failed to find remote peer in cluster',
    );
    httpError(res, 404, 'error sender not found');
    return;
  }

  const gto = header(req.headers, H_RAFT_TO);
  if (gto !== local) {
    ctx.lg.warn(
      { ...fromFields, 'remote-peer-id-header': gto, 'cluster-id': idString(ctx.clusterId) },
      'ignored streaming request; ID mismatch',
    );
    httpError(res, 412, 'to field mismatch');
    return;
  }

  res.writeHead(200);
  res.flushHeaders();
  if (!p.attachOutgoingConn(t, res)) res.end();
}

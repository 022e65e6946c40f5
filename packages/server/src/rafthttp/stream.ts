// The two long-lived streams between a pair of members (etcd's streamWriter and
// streamReader). Each member dials every peer twice, GET /raft/stream/message/<own id> and
// GET /raft/stream/msgapp/<own id>, and reads what that peer sends it from the chunked
// answers; so a member sends to a peer on the connections the peer dialed, and receives
// on the ones it dialed itself.

import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { type Message, MessageType, messageTypeName } from '@etcd-ts/raft';
import type { Timer } from '../clock.js';
import { discard, readText, responseOf } from './client.js';
import {
  encodeFrame,
  isLinkHeartbeat,
  linkHeartbeatMessage,
  MessageDecoder,
  MsgAppV2Decoder,
  MsgAppV2Encoder,
} from './codec.js';
import { requestHeaders, type TransportContext } from './context.js';
import {
  CONN_READ_TIMEOUT_MS,
  CONN_WRITE_TIMEOUT_MS,
  DIAL_RETRY_INTERVAL_MS,
  LINK_HEARTBEAT_INTERVAL_MS,
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  MAX_ERROR_BODY_BYTES,
  STREAM_BUF_SIZE,
} from './limits.js';
import type { PeerStatus, UrlPicker } from './peer_status.js';
import { BoundedQueue, RateLimiter } from './queue.js';
import {
  checkStreamSupport,
  compareMajorMinor,
  ERR_MEMBER_REMOVED,
  ERR_UNSUPPORTED_STREAM_TYPE,
  H_CLUSTER_ID,
  H_RAFT_TO,
  H_SERVER_VERSION,
  header,
  headerVersion,
  idString,
  preconditionError,
  RaftHttpError,
  type StreamType,
  streamEndpoint,
  streamTypeName,
} from './wire.js';

/** An answer to a peer's stream GET that we write to. */
interface OutgoingConn {
  readonly type: StreamType;
  readonly res: ServerResponse;
  readonly encode: (m: Message) => Uint8Array;
  /** When a write started waiting for the socket to drain, 0 while none does. */
  blockedSince: number;
}

function encoderFor(type: StreamType): (m: Message) => Uint8Array {
  if (type === 'message') return encodeFrame;
  const enc = new MsgAppV2Encoder();
  return (m) => enc.encode(m);
}

/**
 * Writes messages to one peer on the stream that peer dialed. The stream is `working` from
 * attach until it fails or is replaced; send() uses it only then. Its queue belongs to the
 * connection: when the connection goes, what was queued is dropped (and the peer reported
 * unreachable), as etcd replaces its channel.
 */
export class StreamWriter {
  private queue = new BoundedQueue<Message>(STREAM_BUF_SIZE);
  private conn: OutgoingConn | undefined;
  private heartbeat: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly status: PeerStatus,
  ) {}

  start(): void {
    this.ctx.lg.info(this.fields(), 'started stream writer with remote peer');
    this.heartbeat = this.ctx.clock.every(LINK_HEARTBEAT_INTERVAL_MS, () => this.tick());
    this.heartbeat.unref();
  }

  /** The queue to send on while a stream is attached (etcd's writec). */
  writec(): BoundedQueue<Message> | undefined {
    return this.conn === undefined ? undefined : this.queue;
  }

  /** Takes over the answer to a peer's stream GET; false once stopped. */
  attach(type: StreamType, res: ServerResponse): boolean {
    if (this.stopped) return false;
    const replaced = this.closeConn();
    const conn: OutgoingConn = { type, res, encode: encoderFor(type), blockedSince: 0 };
    const lg = this.ctx.lg;
    lg.info(
      {
        from: idString(this.ctx.localId),
        to: idString(this.peerId),
        'stream-type': streamTypeName(type),
      },
      'set message encoder',
    );
    this.status.activate();
    this.conn = conn;
    if (replaced) lg.warn(this.fields(type), 'closed TCP streaming connection with remote peer');
    lg.warn(this.fields(type), 'established TCP streaming connection with remote peer');
    res.once('close', () => {
      if (this.conn === conn) this.fail(conn, 'write', 'connection closed by the remote peer');
    });
    void this.pump(conn, this.queue);
    return true;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.heartbeat?.cancel();
    const type = this.conn?.type;
    if (this.closeConn()) {
      this.ctx.lg.warn(
        { 'stream-writer-type': streamTypeName(type!), 'remote-peer-id': idString(this.peerId) },
        'closed TCP streaming connection with remote peer',
      );
    }
    this.ctx.lg.warn(
      {
        'stream-writer-type': type ? streamTypeName(type) : 'unknown stream',
        'remote-peer-id': idString(this.peerId),
      },
      'stopped TCP streaming connection with remote peer',
    );
  }

  /** Moves queued messages to the socket in batches, waiting while the socket is full. */
  private async pump(conn: OutgoingConn, queue: BoundedQueue<Message>): Promise<void> {
    for (;;) {
      const first = await queue.take();
      if (first === undefined || this.conn !== conn) return;
      const parts = [conn.encode(first)];
      let bytes = parts[0]!.length;
      while (parts.length < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES) {
        const m = queue.poll();
        if (m === undefined) break;
        const b = conn.encode(m);
        parts.push(b);
        bytes += b.length;
      }
      const ok = conn.res.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      if (!ok && this.conn === conn) {
        conn.blockedSince = this.ctx.clock.now();
        await new Promise<void>((resolve) => {
          const done = () => {
            conn.res.off('drain', done);
            conn.res.off('close', done);
            resolve();
          };
          conn.res.on('drain', done);
          conn.res.on('close', done);
        });
        conn.blockedSince = 0;
      }
    }
  }

  /** Every third of the read timeout: a link heartbeat, or the end of a stalled stream. */
  private tick(): void {
    const conn = this.conn;
    if (conn === undefined) return;
    if (conn.blockedSince !== 0) {
      if (this.ctx.clock.now() - conn.blockedSince >= CONN_WRITE_TIMEOUT_MS) {
        this.fail(conn, 'write', 'i/o timeout');
      }
      return;
    }
    conn.res.write(conn.encode(linkHeartbeatMessage()));
  }

  private fail(conn: OutgoingConn, action: string, reason: string): void {
    this.status.deactivate({ source: streamTypeName(conn.type), action }, reason);
    this.closeConn();
    this.ctx.lg.warn(this.fields(conn.type), 'lost TCP streaming connection with remote peer');
  }

  /**
   * Ends the attached answer (the peer's reader sees the end of the stream) and starts a
   * new queue; returns whether there was one.
   */
  private closeConn(): boolean {
    const conn = this.conn;
    if (conn === undefined) return false;
    this.conn = undefined;
    conn.res.end();
    const q = this.queue;
    this.queue = new BoundedQueue(STREAM_BUF_SIZE);
    if (q.length > 0) this.ctx.raft.reportUnreachable(this.peerId);
    q.close();
    q.drain();
    return true;
  }

  private fields(type?: StreamType): Record<string, string> {
    const f: Record<string, string> = {};
    if (type !== undefined) f['stream-writer-type'] = streamTypeName(type);
    f['local-member-id'] = idString(this.ctx.localId);
    f['remote-peer-id'] = idString(this.peerId);
    return f;
  }
}

/**
 * Dials one stream of a peer and hands what it reads to raft, redialing (at most every
 * 100 ms) whenever the stream cannot be opened or ends.
 */
export class StreamReader {
  private stopped = false;
  private req: ClientRequest | undefined;
  private wake: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();
  private readonly limiter = new RateLimiter(DIAL_RETRY_INTERVAL_MS);

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    readonly type: StreamType,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
    private readonly recvc: BoundedQueue<Message>,
    private readonly propc: BoundedQueue<Message>,
  ) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.req?.destroy();
    this.wake?.();
    await this.done;
  }

  private async run(): Promise<void> {
    const lg = this.ctx.lg;
    lg.info(this.fields(), 'started stream reader with remote peer');
    const source = streamTypeName(this.type);
    while (!this.stopped) {
      let res: IncomingMessage | undefined;
      try {
        res = await this.dial();
      } catch (err) {
        const e = err as Error;
        if (!this.stopped && !(e instanceof RaftHttpError && e.code === 'unsupportedStreamType')) {
          this.status.deactivate({ source, action: 'dial' }, e.message);
        }
      }
      if (res !== undefined) {
        this.status.activate();
        lg.info(this.fields(), 'established TCP streaming connection with remote peer');
        let error: Error | undefined;
        try {
          await this.decodeLoop(res);
        } catch (err) {
          error = err as Error;
        }
        lg.warn(
          { ...this.fields(), ...(error ? { error: error.message } : {}) },
          'lost TCP streaming connection with remote peer',
        );
        // The end of the answer (the peer closed its writer) or our own close is no failure.
        if (error !== undefined && !this.stopped) {
          this.status.deactivate({ source, action: 'read' }, error.message);
        }
      }
      await this.pause();
    }
    lg.info(this.fields(), 'stopped stream reader with remote peer');
  }

  private pause(): Promise<void> {
    const wait = this.limiter.reserve(this.ctx.clock.now());
    if (wait <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = this.ctx.clock.after(wait, () => {
        this.wake = undefined;
        resolve();
      });
      this.wake = () => {
        t.cancel();
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async dial(): Promise<IncomingMessage> {
    const u = this.picker.pick();
    const path = `${streamEndpoint(this.type)}/${idString(this.ctx.localId)}`;
    this.ctx.lg.debug(
      { from: idString(this.ctx.localId), to: idString(this.peerId), address: `${u}${path}` },
      'dial stream reader',
    );
    if (this.stopped) throw new RaftHttpError('stream reader is stopped', 'stopped');
    const req = this.ctx.client.request(u, {
      method: 'GET',
      path,
      headers: { ...requestHeaders(this.ctx), [H_RAFT_TO]: idString(this.peerId) },
      kind: 'stream',
    });
    this.req = req;
    req.end();
    let res: IncomingMessage;
    try {
      res = await responseOf(req);
    } catch (err) {
      this.picker.unreachable(u);
      throw err;
    }

    const rv = headerVersion(header(res.headers, H_SERVER_VERSION));
    if (rv === undefined) {
      req.destroy();
      this.picker.unreachable(u);
      throw new RaftHttpError(
        `invalid ${H_SERVER_VERSION} ${header(res.headers, H_SERVER_VERSION)}`,
      );
    }
    if (compareMajorMinor(rv, this.ctx.versions.server) < 0 && !checkStreamSupport(rv, this.type)) {
      await discard(res);
      this.picker.unreachable(u);
      throw new RaftHttpError(ERR_UNSUPPORTED_STREAM_TYPE, 'unsupportedStreamType');
    }

    switch (res.statusCode) {
      case 200:
        return res;
      case 410: {
        await discard(res);
        this.picker.unreachable(u);
        const err = new RaftHttpError(ERR_MEMBER_REMOVED, 'memberRemoved');
        this.ctx.reportCriticalError(err);
        throw err;
      }
      case 404:
        await discard(res);
        this.picker.unreachable(u);
        throw new RaftHttpError(
          `peer ${idString(this.peerId)} failed to find local node ${idString(this.ctx.localId)}`,
        );
      case 412: {
        const body = await readText(res, MAX_ERROR_BODY_BYTES);
        this.picker.unreachable(u);
        const err = preconditionError(body);
        if (err.code === 'incompatibleVersion') {
          this.ctx.lg.warn(
            {
              'local-member-id': idString(this.ctx.localId),
              'remote-peer-id': idString(this.peerId),
              error: err.message,
            },
            'request sent was ignored by remote peer due to server version incompatibility',
          );
        } else if (err.code === 'clusterIdMismatch') {
          this.ctx.lg.warn(
            {
              'remote-peer-id': idString(this.peerId),
              'remote-peer-cluster-id': header(res.headers, H_CLUSTER_ID),
              'local-member-id': idString(this.ctx.localId),
              'local-member-cluster-id': idString(this.ctx.clusterId),
              error: err.message,
            },
            'request sent was ignored by remote peer due to cluster ID mismatch',
          );
        }
        throw err;
      }
      default:
        await discard(res);
        this.picker.unreachable(u);
        throw new RaftHttpError(`unhandled http status ${res.statusCode}`);
    }
  }

  /**
   * Reads the stream until it ends (resolves) or breaks (throws): a read error, a decoding
   * error (the stream is closed, the peer redialed), or nothing read for the read timeout.
   */
  private async decodeLoop(res: IncomingMessage): Promise<void> {
    const dec =
      this.type === 'msgappv2'
        ? new MsgAppV2Decoder(this.ctx.localId, this.peerId, this.ctx.maxMessageBytes)
        : new MessageDecoder(this.ctx.maxMessageBytes);
    const clock = this.ctx.clock;
    let lastRead = clock.now();
    const watchdog = clock.every(Math.floor(CONN_READ_TIMEOUT_MS / 5), () => {
      if (clock.now() - lastRead >= CONN_READ_TIMEOUT_MS) {
        res.destroy(new Error(`read from peer ${idString(this.peerId)}: i/o timeout`));
      }
    });
    watchdog.unref();
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        lastRead = clock.now();
        for (const m of dec.push(chunk)) this.deliver(m);
      }
      if (res.errored) throw res.errored;
    } catch (err) {
      res.destroy();
      throw err;
    } finally {
      watchdog.cancel();
      this.req?.destroy();
    }
  }

  /** Hands a message to raft's queue; a full queue drops it, as a network would. */
  private deliver(m: Message): void {
    if (isLinkHeartbeat(m)) return;
    const q = m.type === MessageType.MsgProp ? this.propc : this.recvc;
    if (q.offer(m)) return;
    const active = this.status.isActive();
    this.ctx.lg.warn(
      {
        'message-type': messageTypeName(m.type),
        'local-member-id': idString(this.ctx.localId),
        from: idString(m.from),
        'remote-peer-id': idString(m.to),
        'remote-peer-active': active,
      },
      active
        ? 'dropped internal Raft message since receiving buffer is full (overloaded network)'
        : 'dropped Raft message since receiving buffer is full (overloaded network)',
    );
  }

  private fields(): Record<string, string> {
    return {
      'stream-reader-type': streamTypeName(this.type),
      'local-member-id': idString(this.ctx.localId),
      'remote-peer-id': idString(this.peerId),
    };
  }
}

// The pipeline (etcd's pipeline): one POST /raft per message, a few at a time, for when no
// stream works yet, and MsgSnap without a database. And the snapshot sender (etcd's
// snapshotSender): POST /raft/snapshot with the MsgSnap followed by the database, streamed.

import type { ClientRequest, IncomingMessage } from 'node:http';
import { encodeMessage, type Message, MessageType } from '@etcd-ts/raft';
import { readText, responseOf } from './client.js';
import { encodeFrame } from './codec.js';
import { requestHeaders, type TransportContext } from './context.js';
import {
  CONN_PER_PIPELINE,
  MAX_ERROR_BODY_BYTES,
  PIPELINE_BUF_SIZE,
  SNAP_RESPONSE_READ_TIMEOUT_MS,
} from './limits.js';
import type { PeerStatus, UrlPicker } from './peer_status.js';
import { BoundedQueue } from './queue.js';
import {
  CONTENT_TYPE_PROTOBUF,
  CONTENT_TYPE_SNAPSHOT,
  checkPostResponse,
  ERR_STOPPED,
  humanizeBytes,
  idString,
  RAFT_PREFIX,
  RAFT_SNAPSHOT_PATH,
  RaftHttpError,
  requestUrlString,
} from './wire.js';

/** An outgoing snapshot (etcd's snap.Message): the MsgSnap and the database after it. */
export interface OutgoingSnapshot {
  /** Type MsgSnap, with its raft snapshot. */
  message: Message;
  /** The backend database, streamed, never whole in memory. */
  db: AsyncIterable<Uint8Array>;
  /** The database's size when known beforehand, for the log lines. */
  size?: number;
  /** Called once: the transfer finished (ok) or failed; raft hears of it through reportSnapshot too. */
  done?(ok: boolean): void;
}

export class Pipeline {
  readonly msgc = new BoundedQueue<Message>(PIPELINE_BUF_SIZE);
  private readonly inflight = new Set<ClientRequest>();
  private workers: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {}

  start(): void {
    for (let i = 0; i < CONN_PER_PIPELINE; i++) this.workers.push(this.handle());
    this.ctx.lg.info(this.fields(), 'started HTTP pipelining with remote peer');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.msgc.drain();
    this.msgc.close();
    for (const req of this.inflight) req.destroy(new RaftHttpError(ERR_STOPPED, 'stopped'));
    await Promise.all(this.workers);
    this.ctx.lg.info(this.fields(), 'stopped HTTP pipelining with remote peer');
  }

  private async handle(): Promise<void> {
    for (;;) {
      const m = await this.msgc.take();
      if (m === undefined) return;
      const raft = this.ctx.raft;
      try {
        await this.post(encodeMessage(m));
      } catch (err) {
        this.status.deactivate({ source: 'pipeline', action: 'write' }, (err as Error).message);
        raft.reportUnreachable(m.to);
        if (m.type === MessageType.MsgSnap) raft.reportSnapshot(m.to, true);
        continue;
      }
      this.status.activate();
      if (m.type === MessageType.MsgSnap) raft.reportSnapshot(m.to, false);
    }
  }

  private async post(data: Uint8Array): Promise<void> {
    const u = this.picker.pick();
    if (this.stopped) throw new RaftHttpError(ERR_STOPPED, 'stopped');
    const req = this.ctx.client.request(u, {
      method: 'POST',
      path: RAFT_PREFIX,
      headers: {
        'Content-Type': CONTENT_TYPE_PROTOBUF,
        ...requestHeaders(this.ctx),
        'Content-Length': String(data.length),
      },
      kind: 'pipeline',
    });
    this.inflight.add(req);
    try {
      req.end(data);
      const res = await responseOf(req);
      const body = await readText(res, MAX_ERROR_BODY_BYTES);
      const err = checkPostResponse(res.statusCode ?? 0, body, requestUrlString(u, RAFT_PREFIX));
      if (err !== undefined) {
        // A removed member must stop: the member hears of it through the critical error.
        if (err.code === 'memberRemoved') this.ctx.reportCriticalError(err);
        throw err;
      }
    } catch (err) {
      this.picker.unreachable(u);
      throw err;
    } finally {
      this.inflight.delete(req);
    }
  }

  private fields(): Record<string, string> {
    return {
      'local-member-id': idString(this.ctx.localId),
      'remote-peer-id': idString(this.peerId),
    };
  }
}

export class SnapshotSender {
  private readonly inflight = new Set<ClientRequest>();
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {}

  get inFlight(): number {
    return this.sending.size;
  }

  send(s: OutgoingSnapshot): void {
    const p = this.transfer(s).finally(() => this.sending.delete(p));
    this.sending.add(p);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const req of this.inflight) req.destroy(new RaftHttpError(ERR_STOPPED, 'stopped'));
    await Promise.all([...this.sending]);
  }

  private async transfer(s: OutgoingSnapshot): Promise<void> {
    const m = s.message;
    const to = idString(this.peerId);
    const index = m.snapshot?.metadata.index ?? 0;
    const u = this.picker.pick();
    const frame = encodeFrame(m);
    const sizeFields = (bytes: number) => ({ bytes, size: humanizeBytes(bytes) });
    this.ctx.lg.info(
      {
        'snapshot-index': index,
        'remote-peer-id': to,
        ...sizeFields(frame.length + (s.size ?? 0)),
      },
      'sending database snapshot',
    );
    let sent = frame.length;
    let err: Error | undefined;
    try {
      sent += await this.post(u, frame, s.db);
    } catch (e) {
      err = e as Error;
    }
    const raft = this.ctx.raft;
    if (err !== undefined) {
      this.ctx.lg.warn(
        { 'snapshot-index': index, 'remote-peer-id': to, ...sizeFields(sent), error: err.message },
        'failed to send database snapshot',
      );
      if (err instanceof RaftHttpError && err.code === 'memberRemoved') {
        this.ctx.reportCriticalError(err);
      }
      this.picker.unreachable(u);
      this.status.deactivate({ source: 'sendMsgSnap', action: 'post' }, err.message);
      raft.reportUnreachable(m.to);
      // raft pauses, then sends a new snapshot
      raft.reportSnapshot(m.to, true);
      s.done?.(false);
      return;
    }
    this.status.activate();
    raft.reportSnapshot(m.to, false);
    this.ctx.lg.info(
      { 'snapshot-index': index, 'remote-peer-id': to, ...sizeFields(sent) },
      'sent database snapshot',
    );
    s.done?.(true);
  }

  /** Streams the frame then the database; resolves with the database bytes sent. */
  private async post(u: string, frame: Uint8Array, db: AsyncIterable<Uint8Array>): Promise<number> {
    if (this.stopped) throw new RaftHttpError(ERR_STOPPED, 'stopped');
    const req = this.ctx.client.request(u, {
      method: 'POST',
      path: RAFT_SNAPSHOT_PATH,
      headers: { 'Content-Type': CONTENT_TYPE_SNAPSHOT, ...requestHeaders(this.ctx) },
      kind: 'pipeline',
    });
    this.inflight.add(req);
    // The peer may answer before it has read everything (a refusal): stop sending then.
    let answered: IncomingMessage | undefined;
    const response = responseOf(req);
    response.then(
      (r) => {
        answered = r;
      },
      () => {},
    );
    let sent = 0;
    try {
      const writeOrWait = async (chunk: Uint8Array) => {
        if (req.write(chunk)) return;
        // until the socket takes more, the connection goes, or the peer answers
        await new Promise<void>((resolve) => {
          const done = () => {
            req.off('drain', done);
            req.off('close', done);
            resolve();
          };
          req.on('drain', done);
          req.on('close', done);
          response.then(done, done);
        });
      };
      await writeOrWait(frame);
      for await (const chunk of db) {
        if (answered !== undefined || req.destroyed) break;
        sent += chunk.length;
        await writeOrWait(chunk);
      }
      if (answered === undefined && !req.destroyed) req.end();
      const res = await response;
      const body = await readText(
        res,
        MAX_ERROR_BODY_BYTES,
        this.ctx.clock,
        SNAP_RESPONSE_READ_TIMEOUT_MS,
      );
      const err = checkPostResponse(
        res.statusCode ?? 0,
        body,
        requestUrlString(u, RAFT_SNAPSHOT_PATH),
      );
      if (err !== undefined) throw err;
      return sent;
    } catch (err) {
      req.destroy();
      throw err;
    } finally {
      this.inflight.delete(req);
    }
  }
}

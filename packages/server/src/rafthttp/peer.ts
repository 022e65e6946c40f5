// A remote member as the transport sees it (etcd's peer): two stream writers and two stream
// readers, a pipeline and a snapshot sender sharing one URL picker and one status, and the
// queues between the readers and raft. And a remote (etcd's remote): only a pipeline, for
// the members a joining member must reach before it knows the cluster.

import type { ServerResponse } from 'node:http';
import { type Message, MessageType, messageTypeName } from '@etcd-ts/raft';
import type { TransportContext } from './context.js';
import { MAX_PENDING_PROPOSALS, MAX_SNAPSHOTS_IN_FLIGHT, RECV_BUF_SIZE } from './limits.js';
import { PeerStatus, UrlPicker } from './peer_status.js';
import { type OutgoingSnapshot, Pipeline, SnapshotSender } from './pipeline.js';
import { BoundedQueue } from './queue.js';
import { StreamReader, StreamWriter } from './stream.js';
import { idString, type StreamType } from './wire.js';

/** Which way a message leaves (etcd's names, in drop logs). */
export type Channel = 'streamMsgAppV2' | 'streamMsg' | 'pipeline';

export class Peer {
  readonly status: PeerStatus;
  private readonly picker: UrlPicker;
  private readonly msgAppV2Writer: StreamWriter;
  private readonly writer: StreamWriter;
  private readonly pipeline: Pipeline;
  private readonly snapSender: SnapshotSender;
  private readonly msgAppV2Reader: StreamReader;
  private readonly msgAppReader: StreamReader;
  private readonly recvc = new BoundedQueue<Message>(RECV_BUF_SIZE);
  private readonly propc = new BoundedQueue<Message>(MAX_PENDING_PROPOSALS);

  constructor(
    private readonly ctx: TransportContext,
    readonly id: bigint,
    urls: string[],
  ) {
    this.status = new PeerStatus(ctx.lg, ctx.clock, id);
    this.picker = new UrlPicker(urls);
    this.pipeline = new Pipeline(ctx, id, this.picker, this.status);
    this.msgAppV2Writer = new StreamWriter(ctx, id, this.status);
    this.writer = new StreamWriter(ctx, id, this.status);
    this.snapSender = new SnapshotSender(ctx, id, this.picker, this.status);
    const reader = (t: StreamType) =>
      new StreamReader(ctx, id, t, this.picker, this.status, this.recvc, this.propc);
    this.msgAppV2Reader = reader('msgappv2');
    this.msgAppReader = reader('message');
  }

  start(): void {
    const f = { 'remote-peer-id': idString(this.id) };
    this.ctx.lg.info(f, 'starting remote peer');
    this.pipeline.start();
    this.msgAppV2Writer.start();
    this.writer.start();
    // A proposal may wait for a leader; it must not hold up the other messages.
    void this.process(this.recvc);
    void this.process(this.propc);
    this.msgAppV2Reader.start();
    this.msgAppReader.start();
    this.ctx.lg.info(f, 'started remote peer');
  }

  /**
   * Queues m on the stream that works or the pipeline (pick); never waits. A full queue
   * drops m, and raft hears the peer is unreachable (and a MsgSnap failed).
   */
  send(m: Message): void {
    const [q] = this.pick(m);
    if (q.offer(m)) return;
    const raft = this.ctx.raft;
    raft.reportUnreachable(m.to);
    if (m.type === MessageType.MsgSnap) raft.reportSnapshot(m.to, true);
    this.ctx.lg.warn(
      {
        'message-type': messageTypeName(m.type),
        'local-member-id': idString(this.ctx.localId),
        from: idString(m.from),
        'remote-peer-id': idString(this.id),
        'remote-peer-active': this.status.isActive(),
      },
      'dropped internal Raft message since sending buffer is full (overloaded network)',
    );
  }

  sendSnapshot(s: OutgoingSnapshot): void {
    if (this.snapSender.inFlight >= MAX_SNAPSHOTS_IN_FLIGHT) {
      this.ctx.lg.warn(
        {
          'snapshot-index': s.message.snapshot?.metadata.index ?? 0,
          'remote-peer-id': idString(this.id),
        },
        'dropped database snapshot; another one is being sent to the peer',
      );
      this.ctx.raft.reportSnapshot(s.message.to, true);
      s.done?.(false);
      return;
    }
    this.snapSender.send(s);
  }

  update(urls: string[]): void {
    this.picker.update(urls);
  }

  /** Hands the answer to this peer's stream GET to the writer of that kind. */
  attachOutgoingConn(type: StreamType, res: ServerResponse): boolean {
    return (type === 'msgappv2' ? this.msgAppV2Writer : this.writer).attach(type, res);
  }

  activeSince(): number {
    return this.status.activeSince();
  }

  async stop(): Promise<void> {
    const f = { 'remote-peer-id': idString(this.id) };
    this.ctx.lg.info(f, 'stopping remote peer');
    for (const q of [this.recvc, this.propc]) {
      q.drain();
      q.close();
    }
    this.msgAppV2Writer.stop();
    this.writer.stop();
    await Promise.all([
      this.pipeline.stop(),
      this.snapSender.stop(),
      this.msgAppV2Reader.stop(),
      this.msgAppReader.stop(),
    ]);
    this.ctx.lg.info(f, 'stopped remote peer');
  }

  /**
   * etcd's pick: a MsgSnap always takes the pipeline (it may be huge and would hold a stream
   * up), a MsgApp the msgappv2 stream when it works, anything else the message stream when
   * it works, and the pipeline otherwise.
   */
  pick(m: Message): [BoundedQueue<Message>, Channel] {
    if (m.type === MessageType.MsgSnap) return [this.pipeline.msgc, 'pipeline'];
    const v2 = this.msgAppV2Writer.writec();
    if (v2 !== undefined && m.type === MessageType.MsgApp) return [v2, 'streamMsgAppV2'];
    const w = this.writer.writec();
    if (w !== undefined) return [w, 'streamMsg'];
    return [this.pipeline.msgc, 'pipeline'];
  }

  /** Hands received messages to raft one at a time, in order. */
  private async process(q: BoundedQueue<Message>): Promise<void> {
    for (;;) {
      const m = await q.take();
      if (m === undefined) return;
      try {
        await this.ctx.raft.process(m);
      } catch (err) {
        this.ctx.lg.warn({ error: (err as Error).message }, 'failed to process Raft message');
      }
    }
  }
}

export class Remote {
  readonly status: PeerStatus;
  private readonly pipeline: Pipeline;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: bigint,
    urls: string[],
  ) {
    this.status = new PeerStatus(ctx.lg, ctx.clock, id);
    this.pipeline = new Pipeline(ctx, id, new UrlPicker(urls), this.status);
  }

  start(): void {
    this.pipeline.start();
  }

  /** Queues m on the pipeline; a full one drops it (a remote reports nothing to raft). */
  send(m: Message): void {
    if (this.pipeline.msgc.offer(m)) return;
    const active = this.status.isActive();
    this.ctx.lg.warn(
      {
        'message-type': messageTypeName(m.type),
        'local-member-id': idString(this.ctx.localId),
        from: idString(m.from),
        'remote-peer-id': idString(this.id),
        'remote-peer-active': active,
      },
      active
        ? 'dropped internal Raft message since sending buffer is full (overloaded network)'
        : 'dropped Raft message since sending buffer is full (overloaded network)',
    );
  }

  stop(): Promise<void> {
    return this.pipeline.stop();
  }
}

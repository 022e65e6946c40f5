// The peer transport: raft messages over HTTP. Each peer has a bounded
// queue; one POST at a time carries everything queued for it (length-
// prefixed encoded messages), which keeps messages to a peer in order.
// Failures are reported to raft (unreachable peer, failed snapshot).

import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { decodeMessage, encodeMessage, type Message, MessageType } from '@etcd-ts/raft';

const MAX_QUEUE = 4096;

export interface TransportHandler {
  step(m: Message): void;
  /** Whether `id` was removed from the group (its messages are refused with 410 Gone). */
  isRemoved(id: bigint): boolean;
  /** A peer answered 410 Gone: this member was removed from the group. */
  removedFromGroup(): void;
  reportUnreachable(id: bigint): void;
  reportSnapshot(id: bigint, ok: boolean): void;
}

interface PeerQueue {
  url: string;
  queue: Message[];
  busy: boolean;
}

export class Transport {
  private readonly peers = new Map<bigint, PeerQueue>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly handler: TransportHandler) {}

  addPeer(id: bigint, url: string): void {
    if (!this.peers.has(id)) this.peers.set(id, { url, queue: [], busy: false });
  }

  removePeer(id: bigint): void {
    this.peers.delete(id);
  }

  send(msgs: Message[]): void {
    for (const m of msgs) {
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      if (p.queue.length >= MAX_QUEUE) {
        this.failed(m);
        continue;
      }
      p.queue.push(m);
      this.flush(m.to, p);
    }
  }

  private failed(m: Message): void {
    if (m.type === MessageType.MsgSnap) this.handler.reportSnapshot(m.to, false);
    this.handler.reportUnreachable(m.to);
  }

  private flush(id: bigint, p: PeerQueue): void {
    if (p.busy || p.queue.length === 0) return;
    const batch = p.queue.splice(0);
    const parts: Buffer[] = [];
    for (const m of batch) {
      const b = encodeMessage(m);
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(b.length);
      parts.push(len, Buffer.from(b.buffer, b.byteOffset, b.length));
    }
    const body = Buffer.concat(parts);
    p.busy = true;
    const done = (ok: boolean) => {
      p.busy = false;
      for (const m of batch) {
        if (!ok) this.failed(m);
        else if (m.type === MessageType.MsgSnap) this.handler.reportSnapshot(m.to, true);
      }
      if (this.peers.get(id) === p) this.flush(id, p);
    };
    const req = request(`${p.url}/raft`, {
      method: 'POST',
      agent: this.agent,
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
      timeout: 5000,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        // Like etcd's rafthttp: a member that was removed learns it from its
        // peers' refusal, even if it never saw its removal committed.
        if (res.statusCode === 410) this.handler.removedFromGroup();
        done(res.statusCode === 204);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(false));
    req.end(body);
  }

  /** Handles POST /raft on the peer listener. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      try {
        for (let off = 0; off + 4 <= buf.length; ) {
          const len = buf.readUInt32BE(off);
          // Copy: the decoded message keeps views into its buffer.
          const m = decodeMessage(Uint8Array.from(buf.subarray(off + 4, off + 4 + len)));
          off += 4 + len;
          if (this.handler.isRemoved(m.from)) {
            res.writeHead(410).end('the member has been permanently removed from the cluster');
            return;
          }
          this.handler.step(m);
        }
        res.writeHead(204).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// Pending linearizable reads (ReadIndex) on the leader. With ReadOnlySafe a
// read is answered once a quorum has acknowledged a heartbeat that carries
// the read's context, which proves the leader was still the leader when the
// commit index was recorded. Requests are answered in order: an
// acknowledgement of a later read confirms every earlier one too.

import type { Message } from './raftpb.js';

export const ReadOnlyOption = {
  /** Confirm leadership with a heartbeat round to a quorum (the default; always safe). */
  ReadOnlySafe: 0,
  /**
   * Trust the leader lease (requires CheckQuorum): no round trip, but relies
   * on bounded clock drift between members.
   */
  ReadOnlyLeaseBased: 1,
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

/** A read the application may serve once it has applied up to `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<bigint>;
}

/** Request contexts are compared as bytes; a latin1 string is a faithful key. */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]!);
  return s;
}

export class ReadOnly {
  readonly pendingReadIndex = new Map<string, ReadIndexStatus>();
  readIndexQueue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Records a read request with the commit index at the time it arrived. Duplicates are ignored. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.entries[0]!.data);
    if (this.pendingReadIndex.has(key)) return;
    this.pendingReadIndex.set(key, { index, req: m, acks: new Set() });
    this.readIndexQueue.push(key);
  }

  /** Records that `id` acknowledged the heartbeat carrying ctx; returns who has, so far. */
  recvAck(id: bigint, ctx: Uint8Array): Set<bigint> | undefined {
    const rs = this.pendingReadIndex.get(ctxKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues and returns the requests up to and including the one with ctx. */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const i = this.readIndexQueue.indexOf(key);
    if (i < 0) return [];
    const done = this.readIndexQueue.slice(0, i + 1);
    this.readIndexQueue = this.readIndexQueue.slice(i + 1);
    const rss: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pendingReadIndex.get(k);
      if (rs === undefined)
        throw new Error('cannot find corresponding read state from pending map');
      rss.push(rs);
      this.pendingReadIndex.delete(k);
    }
    return rss;
  }

  /** The context of the newest pending request, which heartbeats carry. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const n = this.readIndexQueue.length;
    if (n === 0) return undefined;
    return this.pendingReadIndex.get(this.readIndexQueue[n - 1]!)!.req.entries[0]!.data;
  }
}

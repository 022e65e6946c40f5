// Node: an asynchronous wrapper around RawNode for applications that prefer
// promises and an event loop to owning the Ready loop themselves. All raft
// work still happens synchronously in the calls below (JavaScript has one
// thread); what is asynchronous is the hand-off of Readys: ready() yields
// one at a time, and the next is produced only after advance(), so the
// application's persistence and application of entries can take their time.
//
//   const node = Node.start(config, peers);
//   setInterval(() => node.tick(), 100);          // the caller's ticker
//   node.run(async (rd) => {                       // or: for await (const rd of node.ready())
//     await persist(rd.hardState, rd.entries, rd.snapshot);
//     send(rd.messages);
//     await apply(rd.committedEntries);
//   });                                            // advance() is called after each handler
//   await node.propose(data);                      // accepted (not yet committed) or ErrProposalDropped

import { ErrStopped } from './errors.js';
import type { Config } from './raft.js';
import type { ConfChange, ConfChangeV2, ConfState, Message } from './raftpb.js';
import { type Peer, RawNode, type Ready, type SnapshotStatus, type Status } from './rawnode.js';

export class Node {
  private stopped = false;
  /** The Ready handed out and not yet advanced. */
  private outstanding: Ready | undefined;
  private readonly waiters: ((rd: Ready | undefined) => void)[] = [];

  private constructor(private readonly rn: RawNode) {}

  /** Starts a member of a new group: bootstraps empty storage with `peers`. */
  static start(config: Config, peers: Peer[]): Node {
    const rn = new RawNode(config);
    rn.bootstrap(peers);
    const n = new Node(rn);
    n.notify();
    return n;
  }

  /** Restarts a member from its storage (the configuration comes from it). */
  static restart(config: Config): Node {
    const n = new Node(new RawNode(config));
    n.notify();
    return n;
  }

  /** The underlying RawNode, for callers that need its synchronous API. */
  get rawNode(): RawNode {
    return this.rn;
  }

  private check(): void {
    if (this.stopped) throw new ErrStopped();
  }

  /** Runs f against the RawNode, then wakes a reader if a Ready became available. */
  private exec<T>(f: () => T): T {
    this.check();
    try {
      return f();
    } finally {
      this.notify();
    }
  }

  private notify(): void {
    if (this.waiters.length === 0 || this.outstanding !== undefined || this.stopped) return;
    if (!this.rn.hasReady()) return;
    const rd = this.rn.ready();
    this.outstanding = rd;
    this.waiters.shift()!(rd);
  }

  tick(): void {
    if (this.stopped) return;
    this.exec(() => this.rn.tick());
  }

  async campaign(): Promise<void> {
    this.exec(() => this.rn.campaign());
  }

  /** Resolves once the proposal is in the leader's log (or forwarded); rejects with ErrProposalDropped. */
  async propose(data: Uint8Array): Promise<void> {
    this.exec(() => this.rn.propose(data));
  }

  async proposeConfChange(cc: ConfChange | ConfChangeV2): Promise<void> {
    this.exec(() => this.rn.proposeConfChange(cc));
  }

  /** Steps a message received from a peer. */
  async step(m: Message): Promise<void> {
    this.exec(() => this.rn.step(m));
  }

  /** Requests a linearizable read; its ReadState arrives in a later Ready. */
  async readIndex(rctx: Uint8Array): Promise<void> {
    this.exec(() => this.rn.readIndex(rctx));
  }

  transferLeadership(transferee: bigint): void {
    this.exec(() => this.rn.transferLeader(transferee));
  }

  reportUnreachable(id: bigint): void {
    if (this.stopped) return;
    this.exec(() => this.rn.reportUnreachable(id));
  }

  reportSnapshot(id: bigint, status: SnapshotStatus): void {
    if (this.stopped) return;
    this.exec(() => this.rn.reportSnapshot(id, status));
  }

  /** Applies a committed configuration change; returns the new ConfState. */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.exec(() => this.rn.applyConfChange(cc));
  }

  status(): Status {
    return this.rn.status();
  }

  /** The next Ready, once there is one and the previous was advanced; undefined after stop(). */
  nextReady(): Promise<Ready | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.notify();
    });
  }

  /** Readys as an async iterator; it ends when the node is stopped. Call advance() after each. */
  ready(): AsyncIterableIterator<Ready> {
    const it: AsyncIterableIterator<Ready> = {
      next: async () => {
        const rd = await this.nextReady();
        return rd === undefined ? { done: true, value: undefined } : { done: false, value: rd };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** The application handled the last Ready. */
  advance(): void {
    const rd = this.outstanding;
    if (rd === undefined || this.stopped) return;
    this.outstanding = undefined;
    this.exec(() => this.rn.advance(rd));
  }

  /**
   * Handles every Ready with `handler` (then advances) until stop(). The
   * returned promise settles when the loop ends; it rejects if the handler
   * throws (and the node is stopped).
   */
  async run(handler: (rd: Ready) => Promise<void> | void): Promise<void> {
    for (;;) {
      const rd = await this.nextReady();
      if (rd === undefined) return;
      try {
        await handler(rd);
      } catch (err) {
        this.stop();
        throw err;
      }
      this.advance();
    }
  }

  /** Stops the node: pending and later reads of Ready end, later calls throw ErrStopped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

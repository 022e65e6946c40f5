// A member of the replicated key-value store: a raft Node, its disk log, the
// peer transport, the key-value state machine, and the HTTP API.
//
//   PUT    /<key>           body = value      replicate a write (204 once applied)
//   GET    /<key>                             linearizable read (ReadIndex), 404 if absent
//   GET    /<key>?serializable                local read
//   POST   /members/<id>    body = peer URL   add a member
//   DELETE /members/<id>                      remove a member
//   GET    /status                            raft status (JSON)

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  ErrProposalDropped,
  Node,
  type Ready,
  SnapshotStatus,
  StateType,
  stateTypeName,
} from '@etcd-ts/raft';
import { DiskLog } from './disklog.js';
import { Transport } from './transport.js';

export interface MemberOptions {
  id: bigint;
  /** Peer URLs of the initial members, by id (this member's included). */
  peers: Map<bigint, string>;
  dataDir: string;
  /** Client API port (0 for any). */
  port: number;
  /** Joining an existing group: start empty, without bootstrapping. */
  join?: boolean;
  /** Take a snapshot (and compact the log) every this many applied entries. */
  snapshotCount?: number;
  tickMs?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const REQUEST_TIMEOUT_MS = 5000;

export class Member {
  private node!: Node;
  private disk!: DiskLog;
  private transport!: Transport;
  private clientServer!: Server;
  private peerServer!: Server;
  private ticker: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly kv = new Map<string, string>();
  private applied = 0;
  private snapshotIndex = 0;
  private confState: ConfState | undefined;
  private readonly proposals = new Map<string, Waiter>();
  private readonly reads = new Map<string, (index: number) => void>();
  private readonly appliedWaiters: { index: number; resolve: () => void }[] = [];
  /** Members removed from the group: their messages are refused. */
  private readonly removed = new Set<bigint>();
  private stopping = false;
  private confChangedSinceSnapshot = false;
  /** Peer URLs of the current members (kept in snapshots). */
  private readonly peerMap: Map<bigint, string>;

  constructor(private readonly opts: MemberOptions) {
    this.peerMap = new Map(opts.peers);
  }

  get clientURL(): string {
    return `http://127.0.0.1:${(this.clientServer.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    const { id, peers, dataDir } = this.opts;
    this.disk = DiskLog.open(dataDir);
    const storage = this.disk.storage;
    // Rebuild the state machine from the snapshot; the entries after it are
    // replayed through raft (applied starts at the snapshot).
    const snap = storage.snapshot();
    if (snap.metadata.index > 0)
      this.restoreSnapshot(snap.data, snap.metadata.index, snap.metadata.confState);
    const config = {
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      applied: snap.metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxUncommittedEntriesSize: 1 << 30,
      preVote: true,
      checkQuorum: true,
    };
    const fresh = storage.lastIndex() === 0 && snap.metadata.index === 0;
    this.node =
      fresh && !this.opts.join
        ? Node.start(
            config,
            [...peers.keys()].map((p) => ({
              id: p,
              context: new TextEncoder().encode(peers.get(p)!),
            })),
          )
        : Node.restart(config);

    this.transport = new Transport({
      step: (m) => this.node.step(m).catch(() => {}),
      isRemoved: (from) => this.removed.has(from),
      removedFromGroup: () => this.removedFromGroup(),
      reportUnreachable: (to) => this.node.reportUnreachable(to),
      reportSnapshot: (to, ok) =>
        this.node.reportSnapshot(
          to,
          ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure,
        ),
    });
    for (const [pid, url] of peers) if (pid !== id) this.transport.addPeer(pid, url);

    const myPeerURL = new URL(peers.get(id)!);
    this.peerServer = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/raft') this.transport.handle(req, res);
      else res.writeHead(404).end();
    });
    this.clientServer = createServer((req, res) => {
      this.serveClient(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
    await listen(this.peerServer, Number(myPeerURL.port));
    await listen(this.clientServer, this.opts.port);

    this.loop = this.node.run((rd) => this.handleReady(rd));
    this.ticker = setInterval(() => this.node.tick(), this.opts.tickMs ?? 100);
  }

  /** Removed from the group: stop serving (the process then exits). */
  private removedFromGroup(): void {
    setImmediate(() => this.stop().catch(() => {}));
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.node.stop();
    await this.loop;
    this.transport.close();
    await Promise.all([close(this.clientServer), close(this.peerServer)]);
    this.disk.close();
  }

  // ---------------------------------------------------------------------------
  // The Ready loop: persist, send, apply.

  private handleReady(rd: Ready): void {
    this.disk.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    this.transport.send(rd.messages);
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > this.applied) {
      const md = rd.snapshot.metadata;
      this.restoreSnapshot(rd.snapshot.data, md.index, md.confState);
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.requestCtx).toString('hex');
      this.reads.get(key)?.(rs.index);
    }
    this.notifyApplied();
    this.maybeSnapshot();
  }

  private applyEntry(e: Entry): void {
    if (e.index <= this.applied) return;
    if (e.type === EntryType.EntryNormal && e.data.length > 0) {
      const { id, key, value } = JSON.parse(new TextDecoder().decode(e.data)) as {
        id: string;
        key: string;
        value: string;
      };
      this.kv.set(key, value);
      this.finish(id);
    } else if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      this.confState = this.node.applyConfChange(cc);
      this.confChangedSinceSnapshot = true;
      this.applyMembership(cc);
      this.finish(Buffer.from(cc.context).toString('hex'));
    }
    this.applied = e.index;
  }

  private applyMembership(cc: ConfChange): void {
    if (
      cc.type === ConfChangeType.ConfChangeAddNode ||
      cc.type === ConfChangeType.ConfChangeAddLearnerNode
    ) {
      // The context carries the new member's peer URL (after an optional "<request id>|").
      const ctx = new TextDecoder().decode(cc.context);
      const url = ctx.includes('|') ? ctx.slice(ctx.indexOf('|') + 1) : ctx;
      if (url !== '') this.peerMap.set(cc.nodeId, url);
      if (cc.nodeId !== this.opts.id && url !== '') this.transport.addPeer(cc.nodeId, url);
    } else if (cc.type === ConfChangeType.ConfChangeRemoveNode) {
      if (cc.nodeId === this.opts.id) {
        this.removedFromGroup();
      } else {
        this.removed.add(cc.nodeId);
        this.transport.removePeer(cc.nodeId);
      }
      this.peerMap.delete(cc.nodeId);
    }
  }

  private finish(id: string): void {
    const w = this.proposals.get(id);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.proposals.delete(id);
    w.resolve();
  }

  private notifyApplied(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i]!;
      if (w.index <= this.applied) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private restoreSnapshot(data: Uint8Array, index: number, cs: ConfState): void {
    this.kv.clear();
    const { kv, peers, removed } = JSON.parse(new TextDecoder().decode(data)) as {
      kv: [string, string][];
      peers: [string, string][];
      removed?: string[];
    };
    for (const id of removed ?? []) this.removed.add(BigInt(id));
    for (const [k, v] of kv) this.kv.set(k, v);
    for (const [id, url] of peers) {
      this.peerMap.set(BigInt(id), url);
      if (BigInt(id) !== this.opts.id) this.transport?.addPeer(BigInt(id), url);
    }
    this.applied = index;
    this.snapshotIndex = index;
    this.confState = cs;
  }

  private maybeSnapshot(): void {
    const every = this.opts.snapshotCount ?? 1000;
    if (this.confState === undefined || this.applied === this.snapshotIndex) return;
    // Also snapshot right after a membership change once the log is compacted:
    // a member added later catches up from the snapshot, which must know it.
    const confChanged =
      this.confChangedSinceSnapshot && this.disk.storage.snapshot().metadata.index > 0;
    if (this.applied - this.snapshotIndex < every && !confChanged) return;
    this.confChangedSinceSnapshot = false;
    const peers = [...this.peerURLs()].map(([id, url]) => [id.toString(), url]);
    const removed = [...this.removed].map(String);
    const data = new TextEncoder().encode(JSON.stringify({ kv: [...this.kv], peers, removed }));
    const s = this.disk.storage;
    s.createSnapshot(this.applied, this.confState, data);
    // Keep some entries so that slightly lagging followers catch up without a snapshot.
    const keep = Math.floor(every / 2);
    if (this.applied - keep > s.firstIndex()) s.compact(this.applied - keep);
    this.disk.rewrite();
    this.snapshotIndex = this.applied;
  }

  private peerURLs(): Map<bigint, string> {
    return this.peerMap;
  }

  // ---------------------------------------------------------------------------
  // Client API.

  private async serveClient(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    if (path === '/status') {
      const st = this.node.status();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: st.id.toString(),
          leader: st.softState.lead.toString(),
          state: stateTypeName(st.softState.raftState),
          term: st.hardState.term,
          commit: st.hardState.commit,
          applied: this.applied,
        }),
      );
      return;
    }
    const member = /^\/members\/(\d+)$/.exec(path);
    if (member !== null) {
      const nodeId = BigInt(member[1]!);
      const body = await readBody(req);
      const reqId = randomBytes(8).toString('hex');
      const type =
        req.method === 'DELETE'
          ? ConfChangeType.ConfChangeRemoveNode
          : ConfChangeType.ConfChangeAddNode;
      if (req.method !== 'DELETE' && req.method !== 'POST') return void res.writeHead(405).end();
      const cc: ConfChange = {
        type,
        nodeId,
        id: 0n,
        context: new TextEncoder().encode(`${reqId}|${body}`),
      };
      await this.waitFor(
        Buffer.from(cc.context).toString('hex'),
        () => this.node.proposeConfChange(cc),
        res,
      );
      return;
    }
    const key = path.slice(1);
    if (key === '') return void res.writeHead(404).end();
    if (req.method === 'PUT') {
      const value = await readBody(req);
      const id = randomBytes(8).toString('hex');
      const data = new TextEncoder().encode(JSON.stringify({ id, key, value }));
      await this.waitFor(id, () => this.node.propose(data), res);
    } else if (req.method === 'GET') {
      if (!url.searchParams.has('serializable')) {
        try {
          await this.linearizableBarrier();
        } catch (err) {
          res.writeHead(503).end(String(err instanceof Error ? err.message : err));
          return;
        }
      }
      const v = this.kv.get(key);
      if (v === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(v);
    } else {
      res.writeHead(405).end();
    }
  }

  /** Proposes, then answers 204 once the entry with this id is applied (503 on failure). */
  private async waitFor(
    id: string,
    propose: () => Promise<void>,
    res: ServerResponse,
  ): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(id);
        reject(new Error('request timed out'));
      }, REQUEST_TIMEOUT_MS);
      this.proposals.set(id, { resolve, reject, timer });
    });
    try {
      await propose();
      await done;
      res.writeHead(204).end();
    } catch (err) {
      const w = this.proposals.get(id);
      if (w !== undefined) clearTimeout(w.timer);
      this.proposals.delete(id);
      done.catch(() => {});
      const msg =
        err instanceof ErrProposalDropped
          ? 'no leader (proposal dropped)'
          : String(err instanceof Error ? err.message : err);
      res.writeHead(503).end(msg);
    }
  }

  /** Waits until this member has applied everything committed when the read began (ReadIndex). */
  private async linearizableBarrier(): Promise<void> {
    const ctx = randomBytes(8);
    const key = ctx.toString('hex');
    const index = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(key);
        reject(new Error('read timed out'));
      }, REQUEST_TIMEOUT_MS);
      this.reads.set(key, (i) => {
        clearTimeout(timer);
        this.reads.delete(key);
        resolve(i);
      });
      this.node.readIndex(ctx).catch(reject);
    });
    if (index > this.applied)
      await new Promise<void>((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  isLeader(): boolean {
    return this.node.status().softState.raftState === StateType.StateLeader;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function listen(s: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
}

function close(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });
}

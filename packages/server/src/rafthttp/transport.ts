// etcd's rafthttp.Transport: the peers and remotes of this member, the send side's routing
// and the listener's /raft handler.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Message, messageTypeName } from '@etcd-ts/raft';
import type { Clock } from '../clock.js';
import type { Logger } from '../config.js';
import { InvariantError } from '../invariant.js';
import { PeerHttpClient, type PeerTLS } from './client.js';
import type { RaftHandler, SnapshotDBStore, TransportContext } from './context.js';
import { type HandlerContext, serveRaft } from './handlers.js';
import { DEFAULT_DIAL_TIMEOUT_MS, MAX_MESSAGE_BYTES } from './limits.js';
import { Peer, Remote } from './peer.js';
import type { OutgoingSnapshot } from './pipeline.js';
import {
  ERR_MEMBER_NOT_FOUND,
  idString,
  isValidPeerUrl,
  type LocalVersions,
  parseSemver,
} from './wire.js';

export interface TransportConfig {
  localId: bigint;
  clusterId: bigint;
  /** This member's advertised peer URLs (sent as X-PeerURLs). */
  peerUrls: string[];
  /** What we announce in X-Server-Version and X-Min-Cluster-Version (etcd 3.4: '3.4.23', '3.0.0'). */
  serverVersion: string;
  minClusterVersion: string;
  /**
   * The cluster version once decided. etcd 3.4's peer transport sends no header for it
   * (nothing in rafthttp reads or writes one), so neither does this one; it is kept for
   * the interface's sake.
   */
  clusterVersion(): string | undefined;
  raft: RaftHandler;
  snapshots: SnapshotDBStore;
  /** TLS for dialing peers (https peer URLs). */
  tls?: PeerTLS;
  logger: Logger;
  clock: Clock;
  /** How long a connection to a peer may take to open; etcd: 1 s + the election timeout. */
  dialTimeoutMs?: number;
  /** The largest message read from a peer (etcd's 512 MiB readBytesLimit). */
  maxMessageBytes?: number;
  /**
   * etcd's ErrorC: a failure the member must stop for — a peer answered that this member
   * was removed from the cluster (410 on a stream, 403 on a POST).
   */
  onCriticalError?(err: Error): void;
}

export class Transport {
  private readonly ctx: TransportContext;
  private readonly handler: HandlerContext;
  private readonly peers = new Map<bigint, Peer>();
  private readonly remotes = new Map<bigint, Remote>();
  /** Peers and remotes being stopped; stop() waits for them. */
  private readonly stopping = new Set<Promise<void>>();
  private stopped = false;

  constructor(cfg: TransportConfig) {
    const server = parseSemver(cfg.serverVersion);
    const minCluster = parseSemver(cfg.minClusterVersion);
    if (server === undefined || minCluster === undefined) {
      throw new InvariantError(
        `rafthttp: invalid versions ${cfg.serverVersion} / ${cfg.minClusterVersion}`,
      );
    }
    const versions: LocalVersions = { server, minCluster };
    const lg = cfg.logger;
    this.ctx = {
      lg,
      clock: cfg.clock,
      localId: cfg.localId,
      clusterId: cfg.clusterId,
      peerUrls: [...cfg.peerUrls],
      serverVersion: cfg.serverVersion,
      minClusterVersion: cfg.minClusterVersion,
      versions,
      raft: cfg.raft,
      client: new PeerHttpClient(cfg.clock, cfg.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS, cfg.tls),
      maxMessageBytes: cfg.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      reportCriticalError: (err) => cfg.onCriticalError?.(err),
    };
    this.handler = {
      ctx: this.ctx,
      snapshots: cfg.snapshots,
      peer: (id) => this.peers.get(id),
      addRemote: (id, urls) => this.addRemote(id, urls),
    };
  }

  /**
   * Serves /raft, /raft/stream/{message,msgapp}/<id>, /raft/snapshot and /raft/probing (and
   * etcd's 404 for any other path under /raft); false for any other path.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    return serveRaft(this.handler, req, res);
  }

  /**
   * Never waits and never throws: a full queue drops the message and reports the peer
   * unreachable (a dropped MsgSnap as a failed snapshot). Messages to unknown peers and
   * with no recipient are dropped.
   */
  send(msgs: Message[]): void {
    for (const m of msgs) {
      if (m.to === 0n) continue; // raft dropped it on purpose
      try {
        const p = this.peers.get(m.to);
        if (p !== undefined) {
          p.send(m);
          continue;
        }
        const r = this.remotes.get(m.to);
        if (r !== undefined) {
          r.send(m);
          continue;
        }
        this.ctx.lg.debug(
          { type: messageTypeName(m.type), 'unknown-target-peer-id': idString(m.to) },
          'ignored message send request; unknown remote peer target',
        );
      } catch (err) {
        this.ctx.lg.error(
          { 'remote-peer-id': idString(m.to), error: (err as Error).message },
          'failed to queue Raft message',
        );
      }
    }
  }

  /** Sends a MsgSnap followed by its database on its own POST (never a stream). */
  sendSnapshot(s: OutgoingSnapshot): void {
    const p = this.peers.get(s.message.to);
    if (p === undefined) {
      this.ctx.lg.warn(
        { 'remote-peer-id': idString(s.message.to), error: ERR_MEMBER_NOT_FOUND },
        'failed to send database snapshot',
      );
      this.ctx.raft.reportSnapshot(s.message.to, true);
      s.done?.(false);
      return;
    }
    p.sendSnapshot(s);
  }

  addPeer(id: bigint, urls: string[]): void {
    if (this.stopped) throw new InvariantError('rafthttp: transport stopped');
    if (this.peers.has(id)) return;
    checkUrls(urls);
    const p = new Peer(this.ctx, id, urls);
    this.peers.set(id, p);
    p.start();
    this.ctx.lg.info(
      {
        'local-member-id': idString(this.ctx.localId),
        'remote-peer-id': idString(id),
        'remote-peer-urls': urls,
      },
      'added remote peer',
    );
  }

  removePeer(id: bigint): void {
    const p = this.peers.get(id);
    if (p === undefined) {
      // etcd panics here; a member that forgot a peer twice need not stop for it.
      this.ctx.lg.warn(
        { 'remote-peer-id': idString(id) },
        'unexpected removal of unknown remote peer',
      );
      return;
    }
    this.peers.delete(id);
    this.track(p.stop());
    this.ctx.lg.info(
      { 'local-member-id': idString(this.ctx.localId), 'removed-remote-peer-id': idString(id) },
      'removed remote peer',
    );
  }

  updatePeer(id: bigint, urls: string[]): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    checkUrls(urls);
    p.update(urls);
    this.ctx.lg.info(
      {
        'local-member-id': idString(this.ctx.localId),
        'updated-remote-peer-id': idString(id),
        'updated-remote-peer-urls': urls,
      },
      'updated remote peer',
    );
  }

  removeAllPeers(): void {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  /**
   * A peer of a member still joining (etcd's AddRemote): only a pipeline, used to catch up
   * with the cluster. Ignored for a known peer or remote, after stop, or with invalid URLs
   * (they may come from a request header).
   */
  addRemote(id: bigint, urls: string[]): void {
    if (this.stopped || this.peers.has(id) || this.remotes.has(id)) return;
    if (urls.length === 0 || !urls.every(isValidPeerUrl)) {
      this.ctx.lg.warn(
        { 'remote-peer-id': idString(id), 'remote-peer-urls': urls },
        'ignored remote peer with invalid URLs',
      );
      return;
    }
    const r = new Remote(this.ctx, id, urls);
    this.remotes.set(id, r);
    r.start();
    this.ctx.lg.info(
      {
        'local-member-id': idString(this.ctx.localId),
        'remote-peer-id': idString(id),
        'remote-peer-urls': urls,
      },
      'added new remote peer',
    );
  }

  /** When the peer's streams became active (clock ms), 0 if it is not. */
  activeSince(id: bigint): number {
    return this.peers.get(id)?.activeSince() ?? 0;
  }

  activePeers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.activeSince() !== 0) n++;
    return n;
  }

  /** Closes every stream and request; incoming /raft requests are refused as unknown after. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      for (const r of this.remotes.values()) this.track(r.stop());
      for (const p of this.peers.values()) this.track(p.stop());
      this.remotes.clear();
      this.peers.clear();
    }
    await Promise.all([...this.stopping]);
    this.ctx.client.destroy();
  }

  private track(p: Promise<void>): void {
    const q = p.finally(() => this.stopping.delete(q));
    this.stopping.add(q);
  }
}

function checkUrls(urls: string[]): void {
  if (urls.length === 0 || !urls.every(isValidPeerUrl)) {
    // etcd panics: the member's own membership holds these URLs
    throw new InvariantError(`rafthttp: invalid peer URLs ${JSON.stringify(urls)}`);
  }
}

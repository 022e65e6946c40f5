import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { type Backend, boltSnapshotFormat } from '@etcd-ts/backend';
import type { Message } from '@etcd-ts/raft';
import type { Clock } from './clock.js';
import type { Logger } from './config.js';
import { idToHex } from './ids.js';
import type { RaftCluster } from './membership.js';
import type { RaftNode } from './raft_node.js';
import {
  PeerHTTPError,
  type RaftHandler,
  type SnapshotDBStore,
  Transport,
} from './rafthttp/index.js';
import { snapshotDBPath } from './snapshot_install.js';

/** Versions this member announces to its peers (etcd's X-Server-Version, X-Min-Cluster-Version). */
export interface PeerVersions {
  server: string;
  minCluster: string;
  cluster(): string | undefined;
}

export interface PeersConfig {
  localId: bigint;
  cluster: RaftCluster;
  backend: Backend;
  snapDir: string;
  /** This member's advertised peer URLs. */
  peerUrls: string[];
  versions: PeerVersions;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean };
  noSync: boolean;
  lg: Logger;
  clock: Clock;
  /** A peer says this member was removed (etcd's ErrorC): the member must stop. */
  onRemoved(err: Error): void;
}

/**
 * This member's side of the peer transport (etcd's EtcdServer as rafthttp.Raft, plus the
 * snapshot plumbing): messages from peers go to the raft node unless their sender was
 * removed; messages to peers go out through rafthttp, MsgSnap with the database streamed
 * after it; an incoming snapshot's database is saved before raft sees the snapshot; and
 * the transport's peers follow the membership as it changes.
 */
export class Peers implements RaftHandler, SnapshotDBStore {
  readonly transport: Transport;
  /** What this member dials its peers with over https. */
  readonly dialTls: PeersConfig['tls'];
  private node: RaftNode | undefined;
  /** The peer URLs the transport has for each peer, to notice updates. */
  private readonly known = new Map<bigint, string>();

  constructor(private readonly c: PeersConfig) {
    this.dialTls = c.tls;
    this.transport = new Transport({
      localId: c.localId,
      clusterId: c.cluster.clusterId,
      peerUrls: c.peerUrls,
      serverVersion: c.versions.server,
      minClusterVersion: c.versions.minCluster,
      clusterVersion: () => c.versions.cluster(),
      raft: this,
      snapshots: this,
      ...(c.tls === undefined ? {} : { tls: c.tls }),
      logger: c.lg,
      clock: c.clock,
      onCriticalError: (err) => c.onRemoved(err),
    });
  }

  /** The raft node messages go to (set once it exists: the transport may start first). */
  attach(node: RaftNode): void {
    this.node = node;
  }

  // ---- rafthttp.Raft ----

  async process(m: Message): Promise<void> {
    if (this.c.cluster.removed.has(m.from))
      throw new PeerHTTPError(403, 'cannot process message from removed member');
    this.node?.step(m);
  }

  isIDRemoved(id: bigint): boolean {
    return this.c.cluster.removed.has(id);
  }

  reportUnreachable(id: bigint): void {
    this.node?.reportUnreachable(id);
  }

  reportSnapshot(id: bigint, failed: boolean): void {
    this.node?.reportSnapshot(id, failed);
  }

  // ---- snapshots ----

  /**
   * Saves the database of the snapshot at `index` as it arrives (etcd's SaveDBFrom): a temp
   * file, fsynced, renamed into place, so a crash never leaves half a database there.
   */
  async saveDBFrom(body: AsyncIterable<Uint8Array>, index: number): Promise<number> {
    const target = snapshotDBPath(this.c.snapDir, index);
    const tmp = `${target}.tmp`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    let n = 0;
    try {
      for await (const chunk of body) {
        await fh.write(chunk);
        n += chunk.length;
      }
      if (!this.c.noSync) await fh.sync();
    } catch (err) {
      await fh.close();
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    await fsp.rename(tmp, target);
    this.c.lg.info(
      { 'snapshot-index': index, 'snapshot-size': n, path: target },
      'saved database snapshot to disk',
    );
    return n;
  }

  /**
   * Sends a MsgSnap with this member's database after it (etcd's
   * createMergedSnapshotMessage): the snapshot raft asked for is taken as it is now —
   * everything applied, the membership as applied — from one consistent read.
   */
  sendSnapshot(m: Message, applied: { index: number; term: number }, data: Uint8Array): void {
    const snap = m.snapshot;
    if (snap === undefined) return;
    this.c.backend.forceCommit();
    const read = this.c.backend.snapshot();
    const message: Message = {
      ...m,
      snapshot: {
        metadata: { index: applied.index, term: applied.term, confState: snap.metadata.confState },
        data,
      },
    };
    this.c.lg.info(
      { 'remote-peer-id': idToHex(m.to), 'snapshot-index': applied.index },
      'sending merged snapshot',
    );
    this.transport.sendSnapshot({
      message,
      db: read.chunks(boltSnapshotFormat),
      done: (ok: boolean) => {
        // A snapshot dropped before it was read still holds its read transaction.
        read.close();
        this.c.lg.info(
          { 'remote-peer-id': idToHex(m.to), 'snapshot-index': applied.index, ok },
          ok ? 'sent merged snapshot' : 'failed to send merged snapshot',
        );
      },
    });
  }

  // ---- messages out ----

  /** Messages to removed members are dropped (etcd's processMessages). */
  send(msgs: Message[]): void {
    const removed = this.c.cluster.removed;
    this.transport.send(removed.size === 0 ? msgs : msgs.filter((m) => !removed.has(m.to)));
  }

  // ---- membership ----

  /** Adds, updates and removes transport peers so they match the membership. */
  syncMembers(): void {
    const { cluster, localId } = this.c;
    for (const m of cluster.members.values()) {
      if (m.id === localId) continue;
      const urls = m.peerUrls.join(',');
      const had = this.known.get(m.id);
      if (had === urls) continue;
      if (had === undefined) this.transport.addPeer(m.id, m.peerUrls);
      else this.transport.updatePeer(m.id, m.peerUrls);
      this.known.set(m.id, urls);
    }
    for (const id of [...this.known.keys()]) {
      if (cluster.members.has(id)) continue;
      this.transport.removePeer(id);
      this.known.delete(id);
    }
  }

  /** Peers of a member still joining: only to catch up with the cluster (etcd's AddRemote). */
  addRemotes(members: Iterable<{ id: bigint; peerUrls: string[] }>): void {
    for (const m of members)
      if (m.id !== this.c.localId) this.transport.addRemote(m.id, m.peerUrls);
  }

  async stop(): Promise<void> {
    await this.transport.stop();
    // Databases of snapshots that never reached raft are of no use after a restart.
    for (const f of fs.readdirSync(this.c.snapDir))
      if (f.endsWith('.snap.db.tmp')) fs.rmSync(path.join(this.c.snapDir, f), { force: true });
  }
}

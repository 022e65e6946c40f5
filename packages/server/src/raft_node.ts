import path from 'node:path';
import type { Backend } from '@etcd-ts/backend';
import {
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  type HardState,
  type MemoryStorage,
  type Message,
  MessageType,
  NONE,
  type RawNode,
  type ReadState,
  type Ready,
  type Snapshot,
  SnapshotStatus,
  StateType,
} from '@etcd-ts/raft';
import { purgeSegments, type Snapshotter, type WAL } from '@etcd-ts/wal';
import type { Applier } from './apply/applier.js';
import type { Clock, Timer } from './clock.js';
import type { Logger, ServerConfig } from './config.js';
import { invariant } from './invariant.js';

/**
 * Sends raft messages to the other members (the peer transport); never blocks. MsgSnap
 * messages go to `sendSnapshot` instead, with the database that must follow them.
 */
export interface Transport {
  send(msgs: Message[]): void;
}

/** How often WAL segments and snapshot files beyond the limits are purged. */
const PURGE_INTERVAL_MS = 30_000;

export interface RaftNodeDeps {
  rn: RawNode;
  storage: MemoryStorage;
  wal: WAL;
  snapshotter: Snapshotter;
  backend: Backend;
  applier: Applier;
  transport: Transport;
  clock: Clock;
  lg: Logger;
  cfg: Pick<
    ServerConfig,
    | 'dataDir'
    | 'heartbeatMs'
    | 'snapshotCount'
    | 'snapshotCatchUpEntries'
    | 'maxWals'
    | 'maxSnapshots'
  >;
  hardState: HardState;
  confState: ConfState;
  snapshotIndex: number;
  /** The membership a raft snapshot carries (etcd 3.4's v2 store). */
  snapshotData(): Uint8Array;
  /**
   * A MsgSnap raft wants sent, with what is applied and the membership now: the member
   * streams its database after it (etcd's msgSnapC and createMergedSnapshotMessage).
   */
  sendSnapshot(m: Message, applied: { index: number; term: number }, data: Uint8Array): void;
  /**
   * A snapshot from the leader, persisted: install its database and reload the stores
   * (etcd's applySnapshot), before any entry after it is applied.
   */
  installSnapshot(snap: Snapshot): Promise<void>;
  /** Leadership or this member's role changed. */
  onSoftState(lead: bigint, state: StateType): void;
  onReadStates(states: readonly ReadState[]): void;
  /** After each Ready's committed entries were applied. */
  onApplied(appliedIndex: number): void;
  /** The loop failed: the member must stop (etcd panics). */
  onFatal(err: Error): void;
}

/**
 * The raft node loop (etcd's raftNode): the only code that touches RawNode. Each Ready is
 * handled as persist (WAL append + one fdatasync for the batch) → send → apply → advance,
 * one at a time; the leader sends before its own write so followers persist in parallel.
 * Snapshots are taken every snapshotCount applied entries.
 */
export class RaftNode {
  private readonly d: RaftNodeDeps;
  private hardState: HardState;
  private confState: ConfState;
  private snapshotIndex: number;
  private committedIndex = 0;
  private lead: bigint = NONE;
  private state: StateType = StateType.StateFollower;
  private ticker: Timer | undefined;
  private purgeTimer: Timer | undefined;
  private readyRunning = false;
  private readyScheduled = false;
  private readyDone: Promise<void> = Promise.resolve();
  private snapshotting = false;
  private stopped = false;

  constructor(d: RaftNodeDeps) {
    this.d = d;
    this.hardState = d.hardState;
    this.confState = d.confState;
    this.snapshotIndex = d.snapshotIndex;
  }

  /** Starts ticking (etcd's adjustTicks may then fast-forward the first election). */
  start(): void {
    this.ticker = this.d.clock.every(this.d.cfg.heartbeatMs, () => {
      this.d.rn.tick();
      this.kick();
    });
    this.purgeTimer = this.d.clock.every(PURGE_INTERVAL_MS, () => void this.purgeFiles());
    this.purgeTimer.unref();
    this.kick();
  }

  /** Moves raft's clock `ticks` heartbeats on at once (etcd's advanceTicks). */
  advanceTicks(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.d.rn.tick();
    this.kick();
  }

  // ---- what the member asks of raft ----

  /** Proposes an entry (throws raft's ErrProposalDropped when it cannot). */
  propose(data: Uint8Array): void {
    this.d.rn.propose(data);
    this.kick();
  }

  proposeConfChange(cc: ConfChange): void {
    this.d.rn.proposeConfChange(cc);
    this.kick();
  }

  /** A message from a peer (etcd's raftNode.Process → Step). */
  step(m: Message): void {
    this.d.rn.step(m);
    this.kick();
  }

  reportUnreachable(id: bigint): void {
    this.d.rn.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: bigint, failed: boolean): void {
    this.d.rn.reportSnapshot(
      id,
      failed ? SnapshotStatus.SnapshotFailure : SnapshotStatus.SnapshotFinish,
    );
    this.kick();
  }

  /** How far each member's log matches the leader's (on the leader only; else empty). */
  progress(): Map<bigint, { match: number }> {
    return this.d.rn.status().progress;
  }

  /** The commit index the leader has (raft's view, maybe ahead of what was persisted). */
  get raftCommit(): number {
    return this.d.rn.status().hardState.commit;
  }

  readIndex(ctx: Uint8Array): void {
    this.d.rn.readIndex(ctx);
    this.kick();
  }

  transferLeader(to: bigint): void {
    this.d.rn.transferLeader(to);
    this.kick();
  }

  /** Raft's side of a committed configuration change (called while applying). */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    this.confState = this.d.rn.applyConfChange(cc);
    return this.confState;
  }

  get leader(): bigint {
    return this.lead;
  }

  get isLeader(): boolean {
    return this.state === StateType.StateLeader;
  }

  get term(): number {
    return this.hardState.term;
  }

  get committed(): number {
    return Math.max(this.committedIndex, this.hardState.commit);
  }

  // ---- the loop ----

  /** Schedules a pass over raft's Ready (coalescing requests made in the same tick). */
  private kick(): void {
    if (this.readyScheduled || this.stopped) return;
    this.readyScheduled = true;
    setImmediate(() => {
      this.readyScheduled = false;
      if (this.readyRunning) return;
      this.readyRunning = true;
      this.readyDone = this.drainReady().finally(() => {
        this.readyRunning = false;
        if (this.d.rn.hasReady() && !this.stopped) this.kick();
      });
    });
  }

  private async drainReady(): Promise<void> {
    try {
      while (!this.stopped && this.d.rn.hasReady()) {
        const rd = this.d.rn.ready();
        await this.handleReady(rd);
        this.d.rn.advance(rd);
        this.d.onApplied(this.d.applier.appliedIndex);
        await this.maybeSnapshot();
      }
    } catch (err) {
      this.stopped = true;
      this.d.onFatal(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { wal, storage, snapshotter } = this.d;
    if (rd.softState !== undefined) {
      this.lead = rd.softState.lead;
      this.state = rd.softState.raftState;
      this.d.onSoftState(this.lead, this.state);
    }
    if (rd.readStates.length > 0) this.d.onReadStates(rd.readStates);
    const isLeader = this.isLeader;
    // The leader may send before its own disk write: followers persist in parallel.
    if (isLeader && rd.messages.length > 0) this.send(rd.messages);
    const snap =
      rd.snapshot !== undefined && rd.snapshot.metadata.index > 0 ? rd.snapshot : undefined;
    if (snap !== undefined) {
      await snapshotter.saveSnap(snap);
      await wal.saveSnapshot({ index: snap.metadata.index, term: snap.metadata.term });
    }
    if (rd.hardState !== undefined || rd.entries.length > 0) {
      const hs = rd.hardState ?? this.hardState;
      // One write, and one fdatasync when entries or the term/vote changed.
      await wal.save(hs, rd.entries);
      this.hardState = hs;
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
    }
    if (snap !== undefined) {
      storage.applySnapshot(snap);
      // Everything up to the snapshot comes with it: the database, then the membership.
      await this.d.installSnapshot(snap);
      this.d.applier.restoredTo(snap.metadata.index, snap.metadata.term, snap.metadata.confState);
      this.confState = snap.metadata.confState;
      this.snapshotIndex = snap.metadata.index;
    }
    if (rd.entries.length > 0) storage.append(rd.entries);
    if (!isLeader && rd.messages.length > 0) this.send(rd.messages);
    this.d.applier.applyEntries(rd.committedEntries);
    const last = rd.committedEntries.at(-1);
    if (last !== undefined && last.index > this.committedIndex) this.committedIndex = last.index;
    if (this.hardState.commit > this.committedIndex) this.committedIndex = this.hardState.commit;
    const latest = this.d.applier.latestConfState;
    if (latest !== undefined) this.confState = latest;
  }

  /** Hands MsgSnap to the member (it streams the database after it), the rest to the transport. */
  private send(msgs: Message[]): void {
    const rest: Message[] = [];
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap) {
        const { applier } = this.d;
        const applied = { index: applier.appliedIndex, term: applier.appliedTerm };
        this.d.sendSnapshot(m, applied, this.d.snapshotData());
      } else rest.push(m);
    }
    if (rest.length > 0) this.d.transport.send(rest);
  }

  // ---- snapshots and purging ----

  private async maybeSnapshot(): Promise<void> {
    const applied = this.d.applier.appliedIndex;
    if (this.snapshotting || applied - this.snapshotIndex <= this.d.cfg.snapshotCount) return;
    this.snapshotting = true;
    try {
      await this.snapshot(applied);
    } finally {
      this.snapshotting = false;
    }
  }

  /**
   * Saves a raft snapshot at the applied index (the backend is the state; the snapshot
   * carries the membership), marks it in the WAL, releases WAL segments before it and
   * compacts the in-memory raft log, keeping snapshotCatchUpEntries entries.
   */
  private async snapshot(index: number): Promise<void> {
    const { storage, snapshotter, wal, backend, lg, cfg } = this.d;
    // The backend must hold everything up to the snapshot before the WAL may be released,
    // so a defrag that holds commits is waited for (etcd's ForceCommit under the batch lock).
    await backend.forceCommitWhenFree();
    invariant(
      index <= this.committed,
      () => `snapshot index ${index} is ahead of the commit index ${this.committed}`,
    );
    const snap = storage.createSnapshot(index, this.confState, this.d.snapshotData());
    await snapshotter.saveSnap(snap);
    await wal.saveSnapshot({ index: snap.metadata.index, term: snap.metadata.term });
    await wal.releaseLockTo(index);
    this.snapshotIndex = index;
    lg.info({ 'snapshot-index': index, 'snapshot-term': snap.metadata.term }, 'saved snapshot');
    const compactIndex =
      index > cfg.snapshotCatchUpEntries ? index - cfg.snapshotCatchUpEntries : 1;
    if (compactIndex > storage.firstIndex()) {
      storage.compact(compactIndex);
      lg.info({ 'compact-index': compactIndex }, 'compacted Raft logs');
    }
    await this.purgeFiles();
  }

  private async purgeFiles(): Promise<void> {
    if (this.stopped) return;
    const { cfg, snapshotter, lg } = this.d;
    try {
      const wals = await purgeSegments(path.join(cfg.dataDir, 'member', 'wal'), cfg.maxWals);
      for (const f of wals) lg.info({ path: f }, 'purged file');
      const snaps = await snapshotter.purge(cfg.maxSnapshots);
      for (const f of snaps) lg.info({ path: f }, 'purged file');
    } catch (err) {
      lg.warn({ error: String(err) }, 'failed to purge files');
    }
  }

  /** Stops ticking and lets the Ready being handled finish (persisted and applied). */
  async stop(): Promise<void> {
    this.ticker?.cancel();
    this.purgeTimer?.cancel();
    await this.readyDone;
    this.stopped = true;
    await this.readyDone;
  }

  /** Closes the WAL (after stop). */
  async close(): Promise<void> {
    await this.d.wal.close();
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { AuthStore, newTokenProvider } from '@etcd-ts/auth';
import {
  Backend,
  BackendQuota,
  costPut,
  importBoltDb,
  isBoltFile,
  LEASE_OVERHEAD_BYTES,
} from '@etcd-ts/backend';
import { Lessor, minLeaseTTL } from '@etcd-ts/lease';
import { WatchableStore } from '@etcd-ts/mvcc';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  ErrProposalDropped,
  type HardState,
  MemoryStorage,
  type Message,
  NONE,
  type Logger as RaftLogger,
  RawNode,
  type ReadState,
  type Ready,
  type Snapshot,
  StateType,
} from '@etcd-ts/raft';
import {
  ErrNoSnapshot,
  purgeSegments,
  Snapshotter,
  validSnapshotEntries,
  WAL,
  walExists,
} from '@etcd-ts/wal';
import { AlarmStore } from './alarms.js';
import { Applier, type ApplyResult, type AuthApplier, type LeaseApplier } from './apply.js';
import { authApplier, rootHeader } from './auth.js';
import { AutoCompactor, parseRetention } from './compactor.js';
import {
  CLUSTER_VERSION,
  type Logger,
  READ_INDEX_RETRY_MS,
  requestTimeoutMs,
  type ServerConfig,
} from './config.js';
import { Errors, EtcdServerError } from './errors.js';
import { idToHex, RequestIdGenerator } from './ids.js';
import { leaseApplier } from './lease.js';
import {
  type Member,
  memberFromJson,
  membershipFromV2Store,
  memberToJson,
  RaftCluster,
} from './membership.js';
import { Wait } from './wait.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/** etcd's maxGapBetweenApplyAndCommitIndex: beyond it proposals get "too many requests". */
export const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;
type ResponseHeader = etcdserverpb.ResponseHeader;

/** Sends raft messages to the other members (the peer transport; a single member has none). */
export interface Transport {
  send(msgs: Message[]): void;
  stop(): Promise<void>;
}

const noTransport: Transport = {
  send() {},
  async stop() {},
};

/** Plug-ins the server's apply layer takes (wired by the caller once their packages exist). */
export interface ServerPlugins {
  lessor?: LeaseApplier;
  auth?: AuthApplier;
  transport?: Transport;
}

interface PendingRead {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface ReadRound {
  ctx: Buffer;
  waiters: PendingRead[];
  retry: NodeJS.Timeout;
  deadline: NodeJS.Timeout;
  /** The commit index the leader confirmed; the reads go once applied reaches it. */
  index?: number;
}

function raftLoggerFrom(lg: Logger): RaftLogger {
  const f = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => lg[level]({}, msg);
  return {
    debug: f('debug'),
    info: f('info'),
    warn: f('warn'),
    error: f('error'),
    fatal: (msg: string) => lg.error({}, msg),
  } as unknown as RaftLogger;
}

/**
 * One etcd member (etcd's EtcdServer): it owns the raft node, the WAL and snapshots, the
 * backend and the mvcc store, and turns client requests into proposals whose apply
 * results it hands back. A single event loop runs everything; the raft loop is a chain of
 * Ready handlers — persist, send, apply, advance — that never overlap.
 */
export class EtcdServer {
  readonly cfg: ServerConfig;
  readonly lg: Logger;
  readonly memberId: bigint;
  readonly cluster: RaftCluster;
  readonly backend: Backend;
  readonly kv: WatchableStore;
  readonly alarms: AlarmStore;
  readonly quota: BackendQuota;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  private stopLessor: (() => void) | undefined;
  readonly requestTimeout: number;
  private readonly applier: Applier;
  private readonly rn: RawNode;
  private readonly storage: MemoryStorage;
  private readonly wal: WAL;
  private readonly snapshotter: Snapshotter;
  private readonly transport: Transport;
  private readonly reqIds: RequestIdGenerator;
  private readonly wait = new Wait<ApplyResult>();
  private hardState: HardState;
  private confState: ConfState;
  private snapshotIndex: number;
  private appliedIndex: number;
  private appliedTerm: number;
  private committedIndex = 0;
  private leader: bigint = NONE;
  private raftState: StateType = StateType.StateFollower;
  private ticker: NodeJS.Timeout | undefined;
  private readyRunning = false;
  private readyScheduled = false;
  private readyDone: Promise<void> = Promise.resolve();
  private stopping = false;
  private stopped = false;
  private fatalError: Error | undefined;
  private readWaiters: PendingRead[] = [];
  private readRound: ReadRound | undefined;
  private readonly confirmedReads: Array<{ index: number; waiters: PendingRead[] }> = [];
  private readonly appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  private published = false;
  private readonly readyListeners: Array<() => void> = [];
  private readonly leaderListeners = new Set<() => void>();
  private snapshotting = false;
  private purgeTimer: NodeJS.Timeout | undefined;
  private compactor: AutoCompactor | undefined;

  private constructor(init: {
    cfg: ServerConfig;
    memberId: bigint;
    cluster: RaftCluster;
    backend: Backend;
    kv: WatchableStore;
    lessor: Lessor;
    authStore: AuthStore;
    alarms: AlarmStore;
    rn: RawNode;
    storage: MemoryStorage;
    wal: WAL;
    snapshotter: Snapshotter;
    plugins: ServerPlugins;
    hardState: HardState;
    confState: ConfState;
    snapshotIndex: number;
    appliedIndex: number;
    appliedTerm: number;
  }) {
    this.cfg = init.cfg;
    this.lg = init.cfg.logger;
    this.memberId = init.memberId;
    this.cluster = init.cluster;
    this.backend = init.backend;
    this.kv = init.kv;
    this.lessor = init.lessor;
    this.authStore = init.authStore;
    this.alarms = init.alarms;
    this.rn = init.rn;
    this.storage = init.storage;
    this.wal = init.wal;
    this.snapshotter = init.snapshotter;
    this.transport = init.plugins.transport ?? noTransport;
    this.hardState = init.hardState;
    this.confState = init.confState;
    this.snapshotIndex = init.snapshotIndex;
    this.appliedIndex = init.appliedIndex;
    this.appliedTerm = init.appliedTerm;
    this.requestTimeout = requestTimeoutMs(init.cfg);
    this.reqIds = new RequestIdGenerator(init.memberId, Date.now());
    this.quota = new BackendQuota(init.backend, init.cfg.quotaBackendBytes);
    this.applier = new Applier({
      kv: init.kv,
      alarms: init.alarms,
      cluster: init.cluster,
      lessor: init.plugins.lessor ?? leaseApplier(init.lessor, init.kv),
      auth: init.plugins.auth ?? authApplier(init.authStore, init.lessor),
      onAlarm: (m, active) =>
        this.lg.warn(
          {
            'member-id': idToHex(m.memberID),
            alarm: etcdserverpb.AlarmType[m.alarm],
          },
          active ? 'alarm raised' : 'alarm disarmed',
        ),
      onClusterVersion: (v) => {
        this.lg.info({ 'cluster-version': v }, 'set initial cluster version');
        this.lg.info({ 'cluster-version': v }, 'enabled capabilities for version');
      },
    });
  }

  // ---- bootstrap ----

  /**
   * Starts a member from `cfg.dataDir`: a new member when there is no WAL yet (ids derived
   * from --initial-cluster, raft bootstrapped with one ConfChange per member), otherwise a
   * restart (newest usable snapshot, then the WAL after it; entries the backend already
   * holds, by its consistent index, are not applied twice).
   */
  static async start(cfg: ServerConfig, plugins: ServerPlugins = {}): Promise<EtcdServer> {
    const lg = cfg.logger;
    const memberDir = path.join(cfg.dataDir, 'member');
    const walDir = path.join(memberDir, 'wal');
    const snapDir = path.join(memberDir, 'snap');
    fs.mkdirSync(snapDir, { recursive: true, mode: 0o700 });
    // Snapshot RPC files a crash left behind.
    for (const f of fs.readdirSync(snapDir))
      if (/^snapshot-.*\.tmp$/.test(f)) fs.rmSync(path.join(snapDir, f), { force: true });
    const haveWal = await walExists(walDir);
    lg.info(
      {
        name: cfg.name,
        'data-dir': cfg.dataDir,
        'initial-cluster-state': cfg.initialClusterState,
        'heartbeat-interval': `${cfg.heartbeatMs}ms`,
        'election-timeout': `${cfg.electionMs}ms`,
        'snapshot-count': cfg.snapshotCount,
        'max-request-bytes': cfg.maxRequestBytes,
        'quota-backend-bytes': cfg.quotaBackendBytes,
      },
      'starting an etcd server',
    );
    const dbPath = path.join(snapDir, 'db');
    if (isBoltFile(dbPath)) {
      // A data dir from etcd itself or from `etcdctl snapshot restore`: its backend is a
      // bbolt file, converted once (crash-safe) into ours with every byte kept.
      const imported = await importBoltDb({ path: dbPath, noSync: cfg.unsafeNoFsync });
      lg.info(
        { path: dbPath, buckets: imported.buckets, entries: imported.entries },
        'imported bbolt backend',
      );
    }
    const backend = Backend.open({
      path: dbPath,
      batchInterval: cfg.backendBatchInterval,
      batchLimit: cfg.backendBatchLimit,
      noSync: cfg.unsafeNoFsync,
      logger: lg,
    });
    const cluster = new RaftCluster();
    cluster.setBackend(backend);
    const electionTicks = Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
    // The lessor comes first: mvcc re-attaches every leased key to it as it restores.
    const lessor = new Lessor({
      backend,
      minLeaseTTL: minLeaseTTL(electionTicks, cfg.heartbeatMs),
      logger: lg,
    });
    const kv = new WatchableStore(backend, { logger: lg, lessor });
    lessor.setRangeDeleter(() => kv.write());
    const alarms = new AlarmStore(backend);
    // Simple tokens carry the raft index of their Authenticate entry; a request presenting
    // one waits until this member has applied that far.
    let waitApplied: (index: number, signal?: AbortSignal) => Promise<void> = async () => {};
    const authStore = new AuthStore({
      backend,
      tokenProvider: newTokenProvider(cfg.authToken, {
        simpleTokenTtlMs: cfg.authTokenTtl * 1000,
        indexWaiter: (index, signal) => waitApplied(index, signal),
        logger: lg,
      }),
      bcryptCost: cfg.bcryptCost,
      logger: lg,
    });
    const snapshotter = new Snapshotter(snapDir);
    const storage = new MemoryStorage();
    const walOpts = { unsafeNoFsync: cfg.unsafeNoFsync };
    const electionTick = Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
    const raftCfg = {
      electionTick,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 4096 / 8,
      maxUncommittedEntriesSize: 1 << 30,
      checkQuorum: true,
      preVote: true,
      logger: raftLoggerFrom(lg),
    };

    let memberId!: bigint;
    let rn!: RawNode;
    let wal!: WAL;
    let hardState: HardState = { term: 0, vote: NONE, commit: 0 };
    let confState: ConfState = {
      voters: [],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    let snapshotIndex = 0;
    let appliedIndex = 0;
    let appliedTerm = 0;
    let fresh = !haveWal;
    if (haveWal) {
      const walSnaps = await validSnapshotEntries(walDir);
      let snap: Snapshot | undefined;
      try {
        snap = await snapshotter.loadNewestAvailable(walSnaps);
      } catch (err) {
        if (!(err instanceof ErrNoSnapshot)) throw err;
      }
      const marker = snap === undefined ? { index: 0, term: 0 } : snap.metadata;
      wal = await WAL.open(walDir, { index: marker.index, term: marker.term }, walOpts);
      const { metadata, state, entries } = await wal.readAll();
      if (
        snap === undefined &&
        entries.length === 0 &&
        state.commit === 0 &&
        kv.consistentIndex().index === 0
      ) {
        // The first start stopped between creating the WAL and saving raft's bootstrap
        // entries: nothing was ever committed, so bootstrapping again loses nothing.
        lg.warn({ 'wal-dir': walDir }, 'WAL holds no raft entries; bootstrapping the member again');
        await wal.close();
        fs.rmSync(walDir, { recursive: true, force: true });
        fresh = true;
      } else {
        const md = etcdserverpb.Metadata.decode(metadata);
        memberId = md.NodeID ?? 0n;
        cluster.clusterId = md.ClusterID ?? 0n;
        cluster.localId = memberId;
        cluster.recover();
        if (snap !== undefined) {
          storage.applySnapshot(snap);
          confState = snap.metadata.confState;
          snapshotIndex = snap.metadata.index;
          appliedIndex = snap.metadata.index;
          appliedTerm = snap.metadata.term;
          const ci = kv.consistentIndex().index;
          // etcd 3.4 keeps membership in the snapshot's v2 store; a restored data dir's
          // backend still names the old cluster's members, so the snapshot wins whenever
          // the backend holds nothing newer than it.
          const v2 = membershipFromV2Store(snap.data);
          if (v2 !== undefined && ci <= snap.metadata.index) {
            cluster.resetTo(v2);
            lg.info(
              {
                'snapshot-index': snap.metadata.index,
                members: v2.members.map((m) => idToHex(m.id)),
              },
              'recovered membership from the snapshot',
            );
          }
          if (ci < snap.metadata.index)
            lg.warn(
              { 'consistent-index': ci, 'snapshot-index': snap.metadata.index },
              'backend consistent index is behind the snapshot',
            );
        }
        storage.setHardState(state);
        storage.append(entries);
        hardState = state;
        rn = new RawNode({ ...raftCfg, id: memberId });
        lg.info(
          {
            'local-member-id': idToHex(memberId),
            'cluster-id': idToHex(md.ClusterID ?? 0n),
            commit: state.commit,
            term: state.term,
            'snapshot-index': snapshotIndex,
            entries: entries.length,
            'consistent-index': kv.consistentIndex().index,
          },
          'restarting local member',
        );
      }
    }
    if (fresh) {
      if (cfg.initialClusterState === 'existing')
        throw new Error(
          'joining an existing cluster needs the peer transport (not in this build); use --initial-cluster-state=new',
        );
      const initial = RaftCluster.fromInitialCluster(cfg.initialCluster, cfg.initialClusterToken);
      const local = [...initial.members.values()].find((m) => m.name === cfg.name);
      if (local === undefined)
        throw new Error(
          `couldn't find local name ${JSON.stringify(cfg.name)} in the initial cluster configuration`,
        );
      const advertised = [...cfg.initialAdvertisePeerUrls].sort();
      if (JSON.stringify(advertised) !== JSON.stringify(local.peerUrls))
        throw new Error(
          `--initial-cluster has ${cfg.name}=${local.peerUrls.join(',')} but missing from --initial-advertise-peer-urls=${cfg.initialAdvertisePeerUrls.join(',')}`,
        );
      memberId = local.id;
      cluster.clusterId = initial.clusterId;
      cluster.localId = memberId;
      const metadata = etcdserverpb.Metadata.encode({
        NodeID: memberId,
        ClusterID: initial.clusterId,
      }).finish();
      // A backend left over from a crashed first start holds nothing we can trust.
      wal = await WAL.create(walDir, metadata, walOpts);
      rn = new RawNode({ ...raftCfg, id: memberId });
      rn.bootstrap(
        initial.sortedMembers().map((m) => ({ id: m.id, context: Buffer.from(memberToJson(m)) })),
      );
      lg.info(
        {
          'local-member-id': idToHex(memberId),
          'cluster-id': idToHex(initial.clusterId),
          'initial-cluster': [...cfg.initialCluster]
            .map(([n, u]) => `${n}=${u.join(',')}`)
            .join(','),
        },
        'starting local member',
      );
    }
    const s = new EtcdServer({
      cfg,
      memberId,
      cluster,
      backend,
      kv,
      lessor,
      authStore,
      alarms,
      rn,
      storage,
      wal,
      snapshotter,
      plugins,
      hardState,
      confState,
      snapshotIndex,
      appliedIndex,
      appliedTerm,
    });
    waitApplied = (index, signal) => s.waitApplied(index, signal);
    s.run(electionTick);
    return s;
  }

  private run(electionTick: number): void {
    // A lone voter need not wait a whole election timeout (etcd's adjustTicks).
    const voters = [...this.cluster.members.values()].filter((m) => !m.isLearner).length;
    const alone =
      voters <= 1 &&
      (this.cluster.members.size === 0 || this.cluster.members.has(this.memberId) || voters === 0);
    if (alone) for (let i = 0; i < electionTick - 1; i++) this.rn.tick();
    this.ticker = setInterval(() => {
      this.rn.tick();
      this.kick();
    }, this.cfg.heartbeatMs);
    this.purgeTimer = setInterval(() => void this.purgeFiles(), 30_000);
    this.lessor.setCheckpointer(async (req) => {
      await this.raftRequest({ leaseCheckpoint: req });
    });
    this.stopLessor = this.lessor.run();
    void this.revokeExpiredLeases();
    this.purgeTimer.unref();
    this.kick();
  }

  /** Proposes the revocation of every lease the (primary) lessor found expired. */
  private async revokeExpiredLeases(): Promise<void> {
    for await (const batch of this.lessor.expiredLeases()) {
      if (this.stopping) return;
      for (const l of batch) {
        if (!this.isLeader()) break;
        this.raftRequest({
          leaseRevoke: { ID: l.id },
          header: { ID: 0n, ...rootHeader(this.authStore) },
        }).then(
          () => this.lg.debug({ 'lease-id': l.id.toString(16) }, 'revoked expired lease'),
          (err) => {
            if (!this.stopping)
              this.lg.warn(
                { 'lease-id': l.id.toString(16), error: String(err) },
                'failed to revoke lease',
              );
          },
        );
      }
    }
  }

  /** The next id for a lease the client left to the server: positive, never 0. */
  nextLeaseId(): bigint {
    let id = 0n;
    while (id === 0n) id = this.reqIds.next() & ((1n << 63n) - 1n);
    return id;
  }

  // ---- the raft loop ----

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
        if (this.rn.hasReady() && !this.stopped) this.kick();
      });
    });
  }

  private async drainReady(): Promise<void> {
    try {
      while (!this.stopped && this.rn.hasReady()) {
        const rd = this.rn.ready();
        await this.handleReady(rd);
        this.rn.advance(rd);
        this.afterApply();
        await this.maybeSnapshot();
      }
    } catch (err) {
      this.fatal(err);
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState !== undefined) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    if (rd.readStates.length > 0) this.onReadStates(rd.readStates);
    const isLeader = this.raftState === StateType.StateLeader;
    // The leader may send before its own disk write: followers persist in parallel.
    if (isLeader && rd.messages.length > 0) this.transport.send(rd.messages);
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) {
      await this.snapshotter.saveSnap(rd.snapshot);
      await this.wal.saveSnapshot({
        index: rd.snapshot.metadata.index,
        term: rd.snapshot.metadata.term,
      });
    }
    if (rd.hardState !== undefined || rd.entries.length > 0) {
      const hs = rd.hardState ?? this.hardState;
      // One write, and one fdatasync when entries or the term/vote changed.
      await this.wal.save(hs, rd.entries);
      this.hardState = hs;
      if (rd.hardState !== undefined) this.storage.setHardState(rd.hardState);
    }
    if (rd.snapshot !== undefined && rd.snapshot.metadata.index > 0) {
      this.storage.applySnapshot(rd.snapshot);
      this.lg.error(
        { index: rd.snapshot.metadata.index },
        'received a raft snapshot from the leader: restoring a backend from a peer needs the peer transport',
      );
    }
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (!isLeader && rd.messages.length > 0) this.transport.send(rd.messages);
    for (const e of rd.committedEntries) this.applyEntry(e);
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1]!;
      if (last.index > this.committedIndex) this.committedIndex = last.index;
    }
    if (this.hardState.commit > this.committedIndex) this.committedIndex = this.hardState.commit;
  }

  private onSoftState(lead: bigint, state: StateType): void {
    const changed = lead !== this.leader;
    this.leader = lead;
    this.raftState = state;
    if (changed) {
      if (lead === NONE) this.lg.info({ 'local-member-id': idToHex(this.memberId) }, 'lost leader');
      else
        this.lg.info(
          {
            'local-member-id': idToHex(this.memberId),
            'leader-id': idToHex(lead),
            term: this.rn.status().hardState.term,
          },
          'elected leader',
        );
      if (state === StateType.StateLeader) {
        // Leases count down on the leader only, extended by an election timeout.
        this.lessor.promote(this.cfg.electionMs);
      } else if (this.lessor.isPrimary) {
        this.lessor.demote();
      }
      for (const l of [...this.leaderListeners]) l();
      // Reads waiting on a leader that went away are retried with the new one.
      if (this.readRound !== undefined && lead !== NONE) this.rn.readIndex(this.readRound.ctx);
    }
  }

  // ---- apply ----

  private applyEntry(e: Entry): void {
    // Entries the backend already holds (by its consistent index) are not applied again.
    const shouldApply = e.index > this.kv.consistentIndex().index;
    if (e.type === EntryType.EntryNormal) {
      if (shouldApply) {
        this.kv.setConsistentIndex(e.index, e.term);
        if (e.data.length > 0) {
          const r = etcdserverpb.InternalRaftRequest.decode(e.data);
          const id = r.ID !== 0n ? r.ID : (r.header?.ID ?? 0n);
          const result = this.applier.apply(r, e.index);
          if (result.err !== undefined && !(result.err instanceof EtcdServerError))
            this.lg.debug({ err: result.err.message }, 'apply request failed');
          this.wait.trigger(id, result);
        }
      }
    } else if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      const result = this.applyConfChange(cc, shouldApply);
      if (shouldApply) this.kv.setConsistentIndex(e.index, e.term);
      this.wait.trigger(cc.id, result);
    } else {
      // Joint consensus (ConfChangeV2) is not proposed by this server.
      this.confState = this.rn.applyConfChange(decodeConfChange(e.data) as unknown as ConfChange);
      if (shouldApply) this.kv.setConsistentIndex(e.index, e.term);
    }
    this.appliedIndex = e.index;
    this.appliedTerm = e.term;
  }

  private applyConfChange(cc: ConfChange, persist: boolean): ApplyResult {
    try {
      this.confState = this.rn.applyConfChange(cc);
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
        case ConfChangeType.ConfChangeAddLearnerNode: {
          const m = memberFromJson(Buffer.from(cc.context).toString('utf8'));
          if (m.id !== cc.nodeId)
            throw new Error('membership: ConfChange node id and member id differ');
          const existing = this.cluster.member(m.id);
          if (existing !== undefined && cc.type === ConfChangeType.ConfChangeAddNode) {
            // Promotion of a learner.
            this.cluster.updateRaftAttributes(m.id, existing.peerUrls, false, persist);
          } else if (existing === undefined) {
            this.cluster.addMember(m, persist);
            this.lg.info(
              {
                'cluster-id': idToHex(this.cluster.clusterId),
                'local-member-id': idToHex(this.memberId),
                'added-peer-id': idToHex(m.id),
                'added-peer-peer-urls': m.peerUrls,
              },
              'added member',
            );
          }
          break;
        }
        case ConfChangeType.ConfChangeRemoveNode:
          this.cluster.removeMember(cc.nodeId, persist);
          this.lg.info({ 'removed-remote-peer-id': idToHex(cc.nodeId) }, 'removed member');
          break;
        case ConfChangeType.ConfChangeUpdateNode: {
          const m = memberFromJson(Buffer.from(cc.context).toString('utf8'));
          const existing = this.cluster.member(m.id);
          this.cluster.updateRaftAttributes(
            m.id,
            m.peerUrls,
            existing?.isLearner ?? false,
            persist,
          );
          break;
        }
      }
      return { resp: this.cluster.sortedMembers() };
    } catch (err) {
      return { err: err as Error };
    }
  }

  /** Runs what waited on the applied index: confirmed reads and applied-index waiters. */
  private afterApply(): void {
    while (this.confirmedReads.length > 0 && this.confirmedReads[0]!.index <= this.appliedIndex) {
      const r = this.confirmedReads.shift()!;
      for (const w of r.waiters) w.resolve();
    }
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i]!;
      if (w.index <= this.appliedIndex) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
    if (!this.published && this.leader !== NONE) this.publish();
  }

  // ---- snapshots and purging ----

  private async maybeSnapshot(): Promise<void> {
    if (this.snapshotting) return;
    if (this.appliedIndex - this.snapshotIndex <= this.cfg.snapshotCount) return;
    this.snapshotting = true;
    try {
      await this.snapshot();
    } finally {
      this.snapshotting = false;
    }
  }

  /**
   * Saves a raft snapshot at the applied index (the backend is the state; the snapshot
   * carries the membership), marks it in the WAL, releases WAL segments before it and
   * compacts the in-memory raft log, keeping snapshotCatchUpEntries entries.
   */
  private async snapshot(): Promise<void> {
    const index = this.appliedIndex;
    // The backend must hold everything up to the snapshot before the WAL may be released.
    this.backend.forceCommit();
    const snap = this.storage.createSnapshot(index, this.confState, this.cluster.snapshotData());
    await this.snapshotter.saveSnap(snap);
    await this.wal.saveSnapshot({ index: snap.metadata.index, term: snap.metadata.term });
    await this.wal.releaseLockTo(index);
    this.snapshotIndex = index;
    this.lg.info(
      { 'snapshot-index': index, 'snapshot-term': snap.metadata.term },
      'saved snapshot',
    );
    let compactIndex = 1;
    if (index > this.cfg.snapshotCatchUpEntries)
      compactIndex = index - this.cfg.snapshotCatchUpEntries;
    if (compactIndex > this.storage.firstIndex()) {
      this.storage.compact(compactIndex);
      this.lg.info({ 'compact-index': compactIndex }, 'compacted Raft logs');
    }
    await this.purgeFiles();
  }

  private async purgeFiles(): Promise<void> {
    if (this.stopped) return;
    try {
      const wals = await purgeSegments(
        path.join(this.cfg.dataDir, 'member', 'wal'),
        this.cfg.maxWals,
      );
      for (const f of wals) this.lg.info({ path: f }, 'purged file');
      const snaps = await this.snapshotter.purge(this.cfg.maxSnapshots);
      for (const f of snaps) this.lg.info({ path: f }, 'purged file');
    } catch (err) {
      this.lg.warn({ error: String(err) }, 'failed to purge files');
    }
  }

  // ---- publishing ----

  private publish(): void {
    this.published = true;
    void (async () => {
      try {
        if (this.isLeader() && this.cluster.version === undefined) {
          this.lg.info(
            { 'cluster-version': CLUSTER_VERSION },
            'setting up initial cluster version',
          );
          await this.raftRequest({ clusterVersionSet: { ver: CLUSTER_VERSION } });
        }
        const local = this.cluster.member(this.memberId);
        await this.raftRequest({
          clusterMemberAttrSet: {
            memberID: this.memberId,
            memberAttributes: { name: this.cfg.name, clientUrls: this.cfg.advertiseClientUrls },
          },
        });
        this.lg.info(
          {
            'local-member-id': idToHex(this.memberId),
            'local-member-attributes': `{Name:${this.cfg.name} ClientURLs:[${this.cfg.advertiseClientUrls.join(' ')}]}`,
            'request-path': `/0/members/${idToHex(this.memberId)}/attributes`,
            'cluster-id': idToHex(this.cluster.clusterId),
            'publish-timeout': `${this.requestTimeout}ms`,
            'was-member': local !== undefined,
          },
          'published local member to cluster through raft',
        );
        this.startCompactor();
        for (const l of this.readyListeners.splice(0)) l();
      } catch (err) {
        if (this.stopping) return;
        this.lg.warn(
          { error: String(err) },
          'failed to publish local member to cluster through raft',
        );
        this.published = false;
        // Try again after an election timeout (a new leader may be on its way).
        setTimeout(() => {
          if (!this.published && !this.stopping && this.leader !== NONE) this.publish();
        }, this.cfg.electionMs);
      }
    })();
  }

  private startCompactor(): void {
    if (this.compactor !== undefined) return;
    const retention = parseRetention(this.cfg.autoCompactionMode, this.cfg.autoCompactionRetention);
    if (retention <= 0) return;
    this.compactor = new AutoCompactor(
      this.cfg.autoCompactionMode,
      retention,
      {
        rev: () => this.kv.rev(),
        isLeader: () => this.isLeader(),
        compact: async (rev) => {
          await this.raftRequest({
            compaction: { revision: rev, physical: false },
            header: { ID: 0n, ...rootHeader(this.authStore) },
          });
        },
      },
      this.lg,
    );
    this.compactor.start();
  }

  /** Resolves once this member has published itself (etcd's ReadyNotify). */
  readyNotify(): Promise<void> {
    if (
      this.published &&
      this.readyListeners.length === 0 &&
      this.cluster.member(this.memberId)?.name
    )
      return Promise.resolve();
    return new Promise((resolve) => this.readyListeners.push(resolve));
  }

  // ---- proposals ----

  /**
   * Proposes `r` through raft and waits for its apply result (etcd's
   * processInternalRaftRequestOnce): refuses requests larger than --max-request-bytes,
   * times out after the request timeout.
   */
  async raftRequest(partial: Partial<InternalRaftRequest>): Promise<unknown> {
    const result = await this.propose(partial);
    if (result.err !== undefined) throw result.err;
    return result.resp;
  }

  async propose(partial: Partial<InternalRaftRequest>): Promise<ApplyResult> {
    this.checkRunning();
    // Back-pressure as etcd: refuse new work while applying lags far behind committing.
    if (this.committed - this.appliedIndex > MAX_GAP_BETWEEN_APPLY_AND_COMMIT)
      throw Errors.tooManyRequests();
    const id = this.reqIds.next();
    const r = etcdserverpb.InternalRaftRequest.fromPartial({
      ...partial,
      header: {
        ID: id,
        username: partial.header?.username ?? '',
        authRevision: partial.header?.authRevision ?? 0,
      },
    } as never);
    const data = etcdserverpb.InternalRaftRequest.encode(r).finish();
    if (data.length > this.cfg.maxRequestBytes) throw Errors.requestTooLarge();
    const done = this.wait.register(id);
    try {
      this.rn.propose(data);
    } catch (err) {
      this.wait.cancel(id);
      if (err instanceof ErrProposalDropped) {
        throw this.leader === NONE ? Errors.noLeader() : Errors.timeout();
      }
      throw err;
    }
    this.kick();
    return this.withTimeout(done, () => this.wait.cancel(id));
  }

  private withTimeout<T>(p: Promise<T>, onTimeout: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        onTimeout();
        reject(this.stopping ? Errors.stopped() : Errors.timeout());
      }, this.requestTimeout);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Proposes a membership change and waits until it is applied; returns the members. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<Member[]> {
    this.checkRunning();
    const id = this.reqIds.next();
    const done = this.wait.register(id);
    try {
      this.rn.proposeConfChange({ ...cc, id });
    } catch (err) {
      this.wait.cancel(id);
      if (err instanceof ErrProposalDropped) throw Errors.timeout();
      throw err;
    }
    this.kick();
    const result = await this.withTimeout(done, () => this.wait.cancel(id));
    if (result.err !== undefined) throw result.err;
    return result.resp as Member[];
  }

  // ---- linearizable reads ----

  /**
   * Resolves once this member has applied everything committed when it was called, as
   * confirmed by the leader (etcd's linearizableReadNotify). Concurrent callers share one
   * ReadIndex round: one in flight serves every read that arrived before it started.
   */
  linearizableReadNotify(): Promise<void> {
    this.checkRunning();
    return new Promise<void>((resolve, reject) => {
      this.readWaiters.push({ resolve, reject });
      this.startReadRound();
    });
  }

  private startReadRound(): void {
    if (this.readRound !== undefined || this.readWaiters.length === 0 || this.stopped) return;
    const waiters = this.readWaiters;
    this.readWaiters = [];
    const ctx = Buffer.alloc(8);
    ctx.writeBigUInt64BE(this.reqIds.next());
    const round: ReadRound = {
      ctx,
      waiters,
      // Leadership may be changing, or the new leader has not committed in its term yet:
      // ask again until the deadline.
      retry: setInterval(() => {
        this.rn.readIndex(ctx);
        this.kick();
      }, READ_INDEX_RETRY_MS),
      deadline: setTimeout(
        () => this.finishReadRound(round, Errors.timeout()),
        this.requestTimeout,
      ),
    };
    this.readRound = round;
    this.rn.readIndex(ctx);
    this.kick();
  }

  private finishReadRound(round: ReadRound, err: Error | undefined): void {
    clearInterval(round.retry);
    clearTimeout(round.deadline);
    if (this.readRound === round) this.readRound = undefined;
    if (err !== undefined) for (const w of round.waiters) w.reject(err);
    this.startReadRound();
  }

  private onReadStates(states: ReadState[]): void {
    const round = this.readRound;
    if (round === undefined) return;
    for (const rs of states) {
      if (!Buffer.from(rs.requestCtx).equals(round.ctx)) continue;
      this.finishReadRound(round, undefined);
      if (rs.index <= this.appliedIndex) for (const w of round.waiters) w.resolve();
      else this.confirmedReads.push({ index: rs.index, waiters: round.waiters });
      return;
    }
  }

  /** Resolves once the applied index reaches `index`; rejects if `signal` aborts first. */
  waitApplied(index: number, signal?: AbortSignal): Promise<void> {
    if (index <= this.appliedIndex) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const w = {
        index,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.appliedWaiters.indexOf(w);
        if (i >= 0) this.appliedWaiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.appliedWaiters.push(w);
    });
  }

  // ---- state for the services ----

  isLeader(): boolean {
    return this.raftState === StateType.StateLeader;
  }

  get leaderId(): bigint {
    return this.leader;
  }

  get term(): number {
    return this.hardState.term;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get committed(): number {
    return Math.max(this.committedIndex, this.hardState.commit);
  }

  get clusterId(): bigint {
    return this.cluster.clusterId;
  }

  /** A response header (etcd's header.fill): revision 0 means the store's current one. */
  header(revision = 0): ResponseHeader {
    return {
      clusterId: this.cluster.clusterId,
      memberId: this.memberId,
      revision: revision === 0 ? this.kv.rev() : revision,
      raftTerm: this.hardState.term,
    };
  }

  /** Fills a header the mvcc appliers left with only a revision. */
  fillHeader(h: ResponseHeader | undefined): ResponseHeader {
    return this.header(h?.revision ?? 0);
  }

  /** etcd's quota check before a write is proposed; raises NOSPACE through raft on failure. */
  async checkQuota(r: Partial<InternalRaftRequest>): Promise<void> {
    if (!this.quota.enabled) return;
    const cost = requestCost(r);
    if (cost === 0 || this.quota.available(cost)) return;
    this.lg.warn(
      { 'quota-size': this.quota.quotaBytes, 'db-size': this.backend.size(), cost },
      'exceeded quota; raising NOSPACE alarm',
    );
    try {
      await this.raftRequest({
        alarm: {
          action: etcdserverpb.AlarmRequest_AlarmAction.ACTIVATE,
          memberID: this.memberId,
          alarm: etcdserverpb.AlarmType.NOSPACE,
        },
      });
    } catch {
      // The write is refused either way.
    }
    throw Errors.noSpace();
  }

  onLeaderChange(l: () => void): () => void {
    this.leaderListeners.add(l);
    return () => this.leaderListeners.delete(l);
  }

  /**
   * Authenticate (etcd's EtcdServer.Authenticate): the password is checked here, before
   * proposing, so it never reaches the WAL; the token is issued when the entry applies.
   * A password checked against an auth revision that moved meanwhile is checked again.
   */
  async authenticate(name: string, password: string): Promise<etcdserverpb.AuthenticateResponse> {
    for (;;) {
      const checked = await this.authStore.checkPassword(name, password);
      const simpleToken = this.authStore.genTokenPrefix();
      const resp = (await this.raftRequest({
        authenticate: { name, password: '', simpleToken },
      })) as Promise<etcdserverpb.AuthenticateResponse>;
      const out = await resp;
      if (checked === this.authStore.revision) {
        this.lg.debug({ 'user-name': name }, 'authenticated a user');
        return { ...out, header: this.header() };
      }
    }
  }

  /** Transfers leadership (etcd's MoveLeader); on one member only to itself. */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.isLeader()) throw Errors.notLeader();
    const m = this.cluster.member(target);
    if (m === undefined || m.isLearner) throw Errors.badLeaderTransferee();
    if (target === this.memberId) return;
    this.rn.transferLeader(target);
    this.kick();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(Errors.timeout());
      }, this.requestTimeout);
      const off = this.onLeaderChange(() => {
        if (this.leader === target) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  // ---- lifecycle ----

  private checkRunning(): void {
    if (this.stopping || this.stopped) throw Errors.stopped();
  }

  private fatal(err: unknown): void {
    if (this.fatalError !== undefined) return;
    this.fatalError = err instanceof Error ? err : new Error(String(err));
    this.lg.error(
      { error: this.fatalError.message, stack: this.fatalError.stack },
      'raft loop failed; stopping',
    );
    void this.stop();
  }

  /** The error that stopped the raft loop, if one did. */
  get failure(): Error | undefined {
    return this.fatalError;
  }

  /**
   * Stops gracefully: no new requests, the Ready being handled finishes (its entries
   * persisted and applied), waiters get "server stopped", then the store flushes the
   * backend (with its consistent index) and the WAL closes.
   */
  async stop(): Promise<void> {
    if (this.stopping) {
      while (!this.stopped) await new Promise((r) => setTimeout(r, 10));
      return;
    }
    this.stopping = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    if (this.purgeTimer !== undefined) clearInterval(this.purgeTimer);
    this.compactor?.stop();
    this.stopLessor?.();
    await this.readyDone;
    this.stopped = true;
    await this.readyDone;
    if (this.readRound !== undefined) this.finishReadRound(this.readRound, Errors.stopped());
    for (const w of this.readWaiters.splice(0)) w.reject(Errors.stopped());
    for (const r of this.confirmedReads.splice(0))
      for (const w of r.waiters) w.reject(Errors.stopped());
    this.wait.triggerAll({ err: Errors.stopped() });
    await this.transport.stop();
    this.lessor.stop();
    await this.kv.close();
    await this.backend.close();
    await this.wal.close();
    this.lg.info({ 'local-member-id': idToHex(this.memberId) }, 'stopped etcd server');
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** etcd's quota cost of a request: the bytes it may add to the backend. */
function requestCost(r: Partial<InternalRaftRequest>): number {
  if (r.put !== undefined) return costPut(r.put.key.length, r.put.value.length);
  if (r.txn !== undefined) return txnCost(r.txn);
  if (r.leaseGrant !== undefined) return LEASE_OVERHEAD_BYTES;
  return 0;
}

function txnCost(t: etcdserverpb.TxnRequest): number {
  let success = 0;
  let failure = 0;
  for (const op of t.success) {
    if (op.requestPut !== undefined)
      success += costPut(op.requestPut.key.length, op.requestPut.value.length);
    if (op.requestTxn !== undefined) success += txnCost(op.requestTxn);
  }
  for (const op of t.failure) {
    if (op.requestPut !== undefined)
      failure += costPut(op.requestPut.key.length, op.requestPut.value.length);
    if (op.requestTxn !== undefined) failure += txnCost(op.requestTxn);
  }
  return Math.max(success, failure);
}

import type { etcdserverpb } from '@etcd-ts/api';
import type { AuthInfo, AuthStore } from '@etcd-ts/auth';
import { type Backend, BackendQuota } from '@etcd-ts/backend';
import type { Lessor } from '@etcd-ts/lease';
import type { WatchableStore } from '@etcd-ts/mvcc';
import { type ConfChange, NONE, StateType } from '@etcd-ts/raft';
import type { AlarmStore } from './alarms.js';
import { Applier } from './apply/applier.js';
import { rootHeader } from './apply/auth.js';
import { adjustTicks, revokeExpiredLeases, startAutoCompactor } from './background.js';
import { bootstrap } from './bootstrap.js';
import { type Clock, realClock } from './clock.js';
import type { AutoCompactor } from './compactor.js';
import {
  type Logger,
  MIN_CLUSTER_VERSION,
  READ_INDEX_RETRY_MS,
  requestTimeoutMs,
  SERVER_VERSION,
  type ServerConfig,
} from './config.js';
import { Errors } from './errors.js';
import { idToHex, RequestIdGenerator } from './ids.js';
import { transferLeadershipOnStop } from './leadership.js';
import type { Member, RaftCluster } from './membership.js';
import { Peers } from './peers.js';
import { type Proposed, Proposer } from './proposals.js';
import { Publisher } from './publish.js';
import { RaftNode } from './raft_node.js';
import { type AppliedIndexWaiters, LinearizableReads } from './read_index.js';
import type { RaftResponses } from './responses.js';
import { installSnapshot } from './snapshot_install.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;
type ResponseHeader = etcdserverpb.ResponseHeader;

/** What a member takes besides its configuration. */
export interface ServerPlugins {
  /** Time for everything in the member (default: the process's clock). */
  clock?: Clock;
}

/**
 * One etcd member (etcd's EtcdServer): it owns the stores, the raft node and the
 * applier, turns requests into proposals whose apply results it hands back, serves
 * linearizable reads, publishes itself, and stops. A single event loop runs everything.
 * The typed request methods the gRPC services call are in ./v3/.
 */
export class EtcdServer {
  readonly cfg: ServerConfig;
  readonly lg: Logger;
  readonly clock: Clock;
  readonly memberId: bigint;
  readonly cluster: RaftCluster;
  readonly backend: Backend;
  readonly kv: WatchableStore;
  readonly alarms: AlarmStore;
  readonly quota: BackendQuota;
  readonly lessor: Lessor;
  readonly authStore: AuthStore;
  readonly requestTimeout: number;
  private readonly node: RaftNode;
  /** The peer transport and this member's side of it. */
  readonly peers: Peers;
  private readonly applier: Applier;
  private readonly reads: LinearizableReads;
  private readonly publisher: Publisher;
  private readonly appliedWaiters: AppliedIndexWaiters;
  private readonly reqIds: RequestIdGenerator;
  private readonly proposer: Proposer;
  private readonly stopListeners: Array<() => void> = [];
  private readonly leaderListeners = new Set<() => void>();
  private compactor: AutoCompactor | undefined;
  private stopLessor: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private fatalError: Error | undefined;
  private lastLead: bigint = NONE;
  private readonly electionTick: number;
  private readonly remotes: Member[];

  /** Starts a member from `cfg.dataDir` (see bootstrap) and its raft loop. */
  static async start(cfg: ServerConfig, plugins: ServerPlugins = {}): Promise<EtcdServer> {
    const clock = plugins.clock ?? realClock;
    // A failed backend commit stops the member; it may come before the member exists.
    let member: EtcdServer | undefined;
    const b = await bootstrap(cfg, clock, (err) => member?.fatal(err));
    const s = new EtcdServer(cfg, clock, b);
    member = s;
    s.run();
    return s;
  }

  private constructor(cfg: ServerConfig, clock: Clock, b: Awaited<ReturnType<typeof bootstrap>>) {
    this.cfg = cfg;
    this.lg = cfg.logger;
    this.clock = clock;
    this.memberId = b.memberId;
    this.cluster = b.cluster;
    this.backend = b.backend;
    this.kv = b.kv;
    this.lessor = b.lessor;
    this.authStore = b.authStore;
    this.alarms = b.alarms;
    this.appliedWaiters = b.appliedWaiters;
    this.requestTimeout = requestTimeoutMs(cfg);
    this.reqIds = new RequestIdGenerator(b.memberId, clock.now());
    this.quota = new BackendQuota(b.backend, cfg.quotaBackendBytes);
    this.applier = new Applier({
      kv: b.kv,
      lessor: b.lessor,
      authStore: b.authStore,
      alarms: b.alarms,
      cluster: b.cluster,
      lg: this.lg,
      applyConfChangeToRaft: (cc) => this.node.applyConfChange(cc),
      trigger: (id, result) => this.proposer.trigger(id, result),
      appliedIndex: b.appliedIndex,
      appliedTerm: b.appliedTerm,
    });
    this.peers = new Peers({
      localId: b.memberId,
      cluster: b.cluster,
      backend: b.backend,
      snapDir: b.snapDir,
      peerUrls: cfg.initialAdvertisePeerUrls,
      versions: {
        server: SERVER_VERSION,
        minCluster: MIN_CLUSTER_VERSION,
        cluster: () => this.cluster.version,
      },
      ...(b.peerTls === undefined ? {} : { tls: b.peerTls }),
      noSync: cfg.unsafeNoFsync,
      lg: this.lg,
      clock,
      onRemoved: (err) => this.stopRemoved(String(err)),
    });
    const target = { ...b, noSync: cfg.unsafeNoFsync, lg: this.lg };
    this.node = new RaftNode({
      ...b,
      applier: this.applier,
      transport: this.peers,
      sendSnapshot: (m, applied, data) => this.peers.sendSnapshot(m, applied, data),
      installSnapshot: (snap) => installSnapshot(target, snap),
      clock,
      lg: this.lg,
      cfg,
      snapshotData: () => this.cluster.snapshotData(),
      onSoftState: (lead, state) => this.onSoftState(lead, state),
      onReadStates: (states) => this.reads.onReadStates(states),
      onApplied: (index) => this.onApplied(index),
      onFatal: (err) => this.fatal(err),
    });
    this.reads = new LinearizableReads({
      clock,
      requestTimeoutMs: this.requestTimeout,
      retryMs: READ_INDEX_RETRY_MS,
      nextCtx: () => {
        const ctx = Buffer.alloc(8);
        ctx.writeBigUInt64BE(this.reqIds.next());
        return ctx;
      },
      readIndex: (ctx) => this.node.readIndex(ctx),
      applied: b.appliedWaiters,
    });
    this.electionTick = b.electionTick;
    this.remotes = b.remotes;
    this.proposer = new Proposer({
      clock,
      reqIds: this.reqIds,
      requestTimeoutMs: this.requestTimeout,
      maxRequestBytes: cfg.maxRequestBytes,
      applyLag: () => this.node.committed - this.applier.appliedIndex,
      hasLeader: () => this.node.leader !== NONE,
      checkRunning: () => this.checkRunning(),
      isStopping: () => this.isStopping,
      propose: (data) => this.node.propose(data),
      proposeConfChange: (cc) => this.node.proposeConfChange(cc),
    });
    this.publisher = new Publisher({
      lg: this.lg,
      clock,
      cfg,
      memberId: b.memberId,
      cluster: b.cluster,
      requestTimeout: this.requestTimeout,
      isStopping: () => this.isStopping,
      isLeader: () => this.isLeader(),
      hasLeader: () => this.node.leader !== NONE,
      setClusterVersion: (ver) => this.raftRequest('clusterVersionSet', { ver }),
      publishAttributes: (name, clientUrls) =>
        this.raftRequest('clusterMemberAttrSet', {
          memberID: this.memberId,
          memberAttributes: { name, clientUrls },
        }),
      onPublished: () => {
        this.compactor ??= startAutoCompactor(
          cfg,
          {
            rev: () => this.kv.rev(),
            isLeader: () => this.isLeader(),
            compact: async (revision) => {
              await this.raftRequest('compaction', { revision, physical: false }, this.rootUser());
            },
          },
          this.lg,
          clock,
        );
      },
    });
  }

  private run(): void {
    this.peers.attach(this.node);
    this.peers.addRemotes(this.remotes);
    this.peers.syncMembers();
    this.node.start();
    // Alone: the only voter, as the membership says, or as --initial-cluster says while the
    // bootstrap entries of a new cluster have not applied yet.
    const voters = [...this.cluster.members.values()].filter((m) => !m.isLearner);
    const alone =
      this.cluster.members.size > 0
        ? voters.length === 1 && voters[0]!.id === this.memberId
        : this.cfg.initialClusterState === 'new' && this.cfg.initialCluster.size === 1;
    if (this.cfg.initialElectionTickAdvance)
      void adjustTicks({
        alone,
        electionTick: this.electionTick,
        clock: this.clock,
        isStopping: () => this.isStopping,
        activePeers: () => this.peers.transport.activePeers(),
        advanceTicks: (n) => this.node.advanceTicks(n),
      });
    this.lessor.setCheckpointer(async (req) => {
      await this.raftRequest('leaseCheckpoint', req);
    });
    this.stopLessor = this.lessor.run();
    void revokeExpiredLeases(this.lessor, {
      lg: this.lg,
      isStopping: () => this.isStopping,
      isLeader: () => this.isLeader(),
      revokeLease: (id) => this.raftRequest('leaseRevoke', { ID: id }, this.rootUser()),
    });
  }

  /** The user the server's own requests run as (etcd's WithRoot). */
  rootUser(): AuthInfo {
    const h = rootHeader(this.authStore);
    return { username: h.username, revision: h.authRevision };
  }

  /** The next id for a lease the client left to the server: positive, never 0. */
  nextLeaseId(): bigint {
    let id = 0n;
    while (id === 0n) id = this.reqIds.next() & ((1n << 63n) - 1n);
    return id;
  }

  // ---- what the raft loop reports ----

  private onSoftState(lead: bigint, state: StateType): void {
    if (state === StateType.StateLeader && !this.lessor.isPrimary) {
      // Leases count down on the leader only, extended by an election timeout.
      this.lessor.promote(this.cfg.electionMs);
    } else if (state !== StateType.StateLeader && this.lessor.isPrimary) {
      this.lessor.demote();
    }
    if (lead === this.lastLead) return;
    this.lastLead = lead;
    if (lead === NONE) this.lg.info({ 'local-member-id': idToHex(this.memberId) }, 'lost leader');
    else
      this.lg.info(
        { 'local-member-id': idToHex(this.memberId), 'leader-id': idToHex(lead), term: this.term },
        'elected leader',
      );
    for (const l of [...this.leaderListeners]) l();
    // Reads waiting on a leader that went away are retried with the new one.
    if (lead !== NONE) this.reads.onLeaderChange();
  }

  private onApplied(index: number): void {
    this.appliedWaiters.advance(index);
    this.peers.syncMembers();
    if (this.cluster.removed.has(this.memberId)) this.stopRemoved('removed through raft');
    this.publisher.maybePublish();
  }

  /** Resolves once this member has published itself (etcd's ReadyNotify). */
  readyNotify(): Promise<void> {
    return this.publisher.readyNotify();
  }

  // ---- proposals ----

  /** Proposes one request and waits for its apply result (see Proposer.propose). */
  propose<K extends keyof RaftResponses>(
    kind: K,
    req: InternalRaftRequest[K],
    user?: AuthInfo,
  ): Promise<Proposed<K>> {
    return this.proposer.propose(kind, req, user);
  }

  /** propose() when only the response matters. */
  async raftRequest<K extends keyof RaftResponses>(
    kind: K,
    req: InternalRaftRequest[K],
    user?: AuthInfo,
  ): Promise<RaftResponses[K]> {
    return (await this.proposer.propose(kind, req, user)).resp;
  }

  /** Proposes a membership change and waits until it is applied; returns the members. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<Member[]> {
    await this.proposer.proposeConfChange(cc);
    return this.cluster.sortedMembers();
  }

  // ---- reads ----

  /**
   * Resolves once this member has applied everything committed when it was called, as
   * confirmed by the leader (etcd's linearizableReadNotify; rounds are shared).
   */
  linearizableReadNotify(): Promise<void> {
    this.checkRunning();
    return this.reads.notify();
  }

  /** Resolves once the applied index reaches `index`; rejects if `signal` aborts first. */
  waitApplied(index: number, signal?: AbortSignal): Promise<void> {
    return this.appliedWaiters.wait(index, signal);
  }

  // ---- state ----

  isLeader(): boolean {
    return this.node.isLeader;
  }

  get leaderId(): bigint {
    return this.node.leader;
  }

  get term(): number {
    return this.node.term;
  }

  get applied(): number {
    return this.applier.appliedIndex;
  }

  get committed(): number {
    return this.node.committed;
  }

  get clusterId(): bigint {
    return this.cluster.clusterId;
  }

  /** Each member's replication progress, as the leader sees it (empty elsewhere). */
  raftProgress(): Map<bigint, { match: number }> {
    return this.node.progress();
  }

  /** Whether this member is a learner (it replicates but neither votes nor serves). */
  isLearner(): boolean {
    return this.cluster.member(this.memberId)?.isLearner === true;
  }

  /**
   * Learners serve only Status and serializable ranges (etcd's isRPCSupportedForLearner):
   * everything else is refused with "etcdserver: rpc not supported for learner".
   */
  assertNotLearner(): void {
    if (this.isLearner()) throw Errors.notSupportedForLearner();
  }

  /** A response header (etcd's header.fill): revision 0 means the store's current one. */
  header(revision = 0): ResponseHeader {
    return {
      clusterId: this.cluster.clusterId,
      memberId: this.memberId,
      revision: revision === 0 ? this.kv.rev() : revision,
      raftTerm: this.node.term,
    };
  }

  /**
   * `resp` with a full header (etcd's header.fill): the revision the applier set, else the
   * store's current one.
   */
  filled<T extends { header?: ResponseHeader | undefined }>(resp: T): T {
    resp.header = this.header(resp.header?.revision);
    return resp;
  }

  onLeaderChange(l: () => void): () => void {
    this.leaderListeners.add(l);
    return () => this.leaderListeners.delete(l);
  }

  /** Asks raft to hand leadership to `target` (see leadership.ts). */
  transferLeadership(target: bigint): void {
    this.node.transferLeader(target);
  }

  /** When the peer's streams came up (clock ms), 0 while it is not connected. */
  activeSince(id: bigint): number {
    return this.peers.transport.activeSince(id);
  }

  // ---- lifecycle ----

  private checkRunning(): void {
    if (this.stopping !== undefined || this.stopped) throw Errors.stopped();
  }

  /** This member was removed from the cluster: it stops, with no failure (etcd exits 0). */
  private stopRemoved(why: string): void {
    if (this.isStopping) return;
    this.lg.warn(
      { 'local-member-id': idToHex(this.memberId), reason: why },
      'the member has been permanently removed from the cluster',
    );
    void this.stop();
  }

  private fatal(err: Error): void {
    if (this.fatalError !== undefined) return;
    this.fatalError = err;
    // Nothing more reaches the backend's file: what the WAL holds is replayed on restart.
    this.backend.abandon(err);
    this.lg.error({ error: err.message, stack: err.stack }, 'raft loop failed; stopping');
    void this.stop();
  }

  /** The error that stopped the raft loop, if one did (the process exits non-zero). */
  get failure(): Error | undefined {
    return this.fatalError;
  }

  /**
   * Stops gracefully: no new requests, the Ready being handled finishes (its entries
   * persisted and applied), waiters get "server stopped", then the store flushes the
   * backend (with its consistent index) and the WAL closes.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // A healthy leader hands over first; one that failed or was removed just stops.
      if (this.fatalError === undefined && !this.cluster.removed.has(this.memberId))
        await transferLeadershipOnStop(this);
      this.compactor?.stop();
      this.stopLessor?.();
      await this.node.stop();
      this.stopped = true;
      const stopped = Errors.stopped();
      this.reads.stop(stopped);
      this.appliedWaiters.rejectAll(stopped);
      this.proposer.failAll(stopped);
      this.lessor.stop();
      // Each part is closed even if one before it fails (an abandoned backend refuses the
      // store's last commit): the member must end up stopped.
      for (const close of [
        () => this.peers.stop(),
        () => this.kv.close(),
        () => this.backend.close(),
        () => this.node.close(),
      ]) {
        try {
          await close();
        } catch (err) {
          this.lg.warn({ error: String(err) }, 'failed to close part of the member');
        }
      }
      this.lg.info({ 'local-member-id': idToHex(this.memberId) }, 'stopped etcd server');
      for (const l of this.stopListeners.splice(0)) l();
    })();
    return this.stopping;
  }

  /** Whether stop() has begun. */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Resolves once the member has stopped, whatever stopped it (etcd's StopNotify). */
  stopNotify(): Promise<void> {
    return this.stopped
      ? Promise.resolve()
      : new Promise((resolve) => this.stopListeners.push(resolve));
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

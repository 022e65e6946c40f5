import { etcdserverpb } from '@etcd-ts/api';
import type { AuthInfo, AuthStore } from '@etcd-ts/auth';
import { type Backend, BackendQuota } from '@etcd-ts/backend';
import type { Lessor } from '@etcd-ts/lease';
import type { WatchableStore } from '@etcd-ts/mvcc';
import { type ConfChange, ErrProposalDropped, NONE, StateType } from '@etcd-ts/raft';
import type { AlarmStore } from './alarms.js';
import { Applier, type ApplyResult } from './apply/applier.js';
import { rootHeader } from './apply/auth.js';
import { revokeExpiredLeases, startAutoCompactor } from './background.js';
import { bootstrap } from './bootstrap.js';
import { type Clock, realClock, sleep, withTimeout } from './clock.js';
import type { AutoCompactor } from './compactor.js';
import {
  CLUSTER_VERSION,
  type Logger,
  READ_INDEX_RETRY_MS,
  requestTimeoutMs,
  type ServerConfig,
} from './config.js';
import { Errors } from './errors.js';
import { idToHex, RequestIdGenerator } from './ids.js';
import type { Member, RaftCluster } from './membership.js';
import { noTransport, RaftNode, type Transport } from './raft_node.js';
import { type AppliedIndexWaiters, LinearizableReads } from './read_index.js';
import type { RaftResponses } from './responses.js';
import { Wait } from './wait.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;
type ResponseHeader = etcdserverpb.ResponseHeader;

/** etcd's maxGapBetweenApplyAndCommitIndex: beyond it proposals get "too many requests". */
export const MAX_GAP_BETWEEN_APPLY_AND_COMMIT = 5000;

/** What a member takes besides its configuration. */
export interface ServerPlugins {
  transport?: Transport;
  /** Time for everything in the member (default: the process's clock). */
  clock?: Clock;
}

/** A request kind's response, and for a compaction the promise of its physical removal. */
export interface Proposed<K extends keyof RaftResponses> {
  resp: RaftResponses[K];
  physc?: Promise<void>;
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
  private readonly applier: Applier;
  private readonly reads: LinearizableReads;
  private readonly appliedWaiters: AppliedIndexWaiters;
  private readonly reqIds: RequestIdGenerator;
  private readonly wait = new Wait<ApplyResult>();
  private readonly readyListeners: Array<() => void> = [];
  private readonly leaderListeners = new Set<() => void>();
  private published = false;
  private compactor: AutoCompactor | undefined;
  private stopLessor: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private fatalError: Error | undefined;
  private lastLead: bigint = NONE;
  private readonly electionTick: number;

  /** Starts a member from `cfg.dataDir` (see bootstrap) and its raft loop. */
  static async start(cfg: ServerConfig, plugins: ServerPlugins = {}): Promise<EtcdServer> {
    const clock = plugins.clock ?? realClock;
    const s = new EtcdServer(cfg, clock, await bootstrap(cfg, clock), plugins);
    s.run();
    return s;
  }

  private constructor(
    cfg: ServerConfig,
    clock: Clock,
    b: Awaited<ReturnType<typeof bootstrap>>,
    plugins: ServerPlugins,
  ) {
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
      trigger: (id, result) => this.wait.trigger(id, result),
      appliedIndex: b.appliedIndex,
      appliedTerm: b.appliedTerm,
    });
    this.node = new RaftNode({
      ...b,
      applier: this.applier,
      transport: plugins.transport ?? noTransport,
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
  }

  private run(): void {
    const voters = [...this.cluster.members.values()].filter((m) => !m.isLearner).length;
    const alone =
      voters <= 1 &&
      (this.cluster.members.size === 0 || this.cluster.members.has(this.memberId) || voters === 0);
    this.node.start(this.electionTick, alone);
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
    if (!this.published && this.node.leader !== NONE) this.publish();
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
          await this.raftRequest('clusterVersionSet', { ver: CLUSTER_VERSION });
        }
        const local = this.cluster.member(this.memberId);
        await this.raftRequest('clusterMemberAttrSet', {
          memberID: this.memberId,
          memberAttributes: { name: this.cfg.name, clientUrls: this.cfg.advertiseClientUrls },
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
        this.compactor ??= startAutoCompactor(
          this.cfg,
          {
            rev: () => this.kv.rev(),
            isLeader: () => this.isLeader(),
            compact: async (revision) => {
              await this.raftRequest('compaction', { revision, physical: false }, this.rootUser());
            },
          },
          this.lg,
          this.clock,
        );
        for (const l of this.readyListeners.splice(0)) l();
      } catch (err) {
        if (this.stopping !== undefined) return;
        this.lg.warn(
          { error: String(err) },
          'failed to publish local member to cluster through raft',
        );
        this.published = false;
        // Try again after an election timeout (a new leader may be on its way).
        await sleep(this.clock, this.cfg.electionMs);
        if (!this.published && this.stopping === undefined && this.node.leader !== NONE)
          this.publish();
      }
    })();
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
   * Proposes one request of kind `kind` as `user` and waits for its apply result (etcd's
   * processInternalRaftRequestOnce): refuses requests larger than --max-request-bytes
   * and new work while applying lags far behind committing; times out after the request
   * timeout.
   */
  async propose<K extends keyof RaftResponses>(
    kind: K,
    req: InternalRaftRequest[K],
    user?: AuthInfo,
  ): Promise<Proposed<K>> {
    this.checkRunning();
    if (this.node.committed - this.applier.appliedIndex > MAX_GAP_BETWEEN_APPLY_AND_COMMIT)
      throw Errors.tooManyRequests();
    const id = this.reqIds.next();
    const r = etcdserverpb.InternalRaftRequest.create();
    r[kind] = req;
    r.header = { ID: id, username: user?.username ?? '', authRevision: user?.revision ?? 0 };
    const data = etcdserverpb.InternalRaftRequest.encode(r).finish();
    if (data.length > this.cfg.maxRequestBytes) throw Errors.requestTooLarge();
    const result = await this.waitFor(id, () => this.node.propose(data));
    if (result.err !== undefined) throw result.err;
    // The applier answered the request kind it was given (apply/applier.ts dispatch);
    // Authenticate's token comes as a promise (JWT signing).
    const resp = (await result.resp) as RaftResponses[K];
    return result.physc === undefined ? { resp } : { resp, physc: result.physc };
  }

  /** propose() when only the response matters. */
  async raftRequest<K extends keyof RaftResponses>(
    kind: K,
    req: InternalRaftRequest[K],
    user?: AuthInfo,
  ): Promise<RaftResponses[K]> {
    return (await this.propose(kind, req, user)).resp;
  }

  /** Proposes a membership change and waits until it is applied; returns the members. */
  async proposeConfChange(cc: Omit<ConfChange, 'id'>): Promise<Member[]> {
    this.checkRunning();
    const id = this.reqIds.next();
    const result = await this.waitFor(id, () => this.node.proposeConfChange({ ...cc, id }));
    if (result.err !== undefined) throw result.err;
    return this.cluster.sortedMembers();
  }

  /** Registers `id`, runs `submit`, and waits for the entry's result or the timeout. */
  private waitFor(id: bigint, submit: () => void): Promise<ApplyResult> {
    const done = this.wait.register(id);
    try {
      submit();
    } catch (err) {
      this.wait.cancel(id);
      if (err instanceof ErrProposalDropped)
        throw this.node.leader === NONE ? Errors.noLeader() : Errors.timeout();
      throw err;
    }
    return withTimeout(this.clock, done, this.requestTimeout, () => {
      this.wait.cancel(id);
      return this.stopping !== undefined ? Errors.stopped() : Errors.timeout();
    });
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

  /** Transfers leadership (etcd's MoveLeader) and waits for it to happen. */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.isLeader()) throw Errors.notLeader();
    const m = this.cluster.member(target);
    if (m === undefined || m.isLearner) throw Errors.badLeaderTransferee();
    if (target === this.memberId) return;
    let off: () => void = () => {};
    const moved = new Promise<void>((resolve) => {
      off = this.onLeaderChange(() => {
        if (this.node.leader === target) resolve();
      });
    });
    this.node.transferLeader(target);
    try {
      await withTimeout(this.clock, moved, this.requestTimeout, () => Errors.timeout());
    } finally {
      off();
    }
  }

  // ---- lifecycle ----

  private checkRunning(): void {
    if (this.stopping !== undefined || this.stopped) throw Errors.stopped();
  }

  private fatal(err: Error): void {
    if (this.fatalError !== undefined) return;
    this.fatalError = err;
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
      this.compactor?.stop();
      this.stopLessor?.();
      await this.node.stop();
      this.stopped = true;
      const stopped = Errors.stopped();
      this.reads.stop(stopped);
      this.appliedWaiters.rejectAll(stopped);
      this.wait.triggerAll({ err: stopped });
      this.lessor.stop();
      await this.kv.close();
      await this.backend.close();
      await this.node.close();
      this.lg.info({ 'local-member-id': idToHex(this.memberId) }, 'stopped etcd server');
    })();
    return this.stopping;
  }

  /** Whether stop() has begun. */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { AuthStore, newTokenProvider } from '@etcd-ts/auth';
import { Backend, importBoltDb, isBoltFile } from '@etcd-ts/backend';
import { Lessor, minLeaseTTL } from '@etcd-ts/lease';
import { WatchableStore } from '@etcd-ts/mvcc';
import {
  type ConfState,
  type HardState,
  MemoryStorage,
  NONE,
  type Logger as RaftLogger,
  RawNode,
  type Snapshot,
} from '@etcd-ts/raft';
import { ErrNoSnapshot, Snapshotter, validSnapshotEntries, WAL, walExists } from '@etcd-ts/wal';
import { AlarmStore } from './alarms.js';
import type { Clock } from './clock.js';
import type { Logger, ServerConfig } from './config.js';
import { forceNewCluster } from './force_new_cluster.js';
import { idToHex } from './ids.js';
import { invariant } from './invariant.js';
import { assignIds, clusterFromPeers } from './join.js';
import { type Member, membershipFromV2Store, memberToJson, RaftCluster } from './membership.js';
import { AppliedIndexWaiters } from './read_index.js';
import { installSnapshot, snapshotDBPath } from './snapshot_install.js';

/** Everything a member is made of once its data dir is read (etcd's bootstrappedServer). */
export interface Bootstrapped {
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
  hardState: HardState;
  confState: ConfState;
  snapshotIndex: number;
  appliedIndex: number;
  appliedTerm: number;
  electionTick: number;
  /** Waiters on the applied index (the auth store's simple tokens wait on it). */
  appliedWaiters: AppliedIndexWaiters;
  /** member/snap: raft snapshots and the databases of snapshots from the leader. */
  snapDir: string;
  /** The peer TLS material for dialing peers, read once. */
  peerTls: PeerDialTLS | undefined;
  /** The members of the cluster a new member joins, to reach before its log names them. */
  remotes: Member[];
}

/** What this member dials its peers with over https. */
export interface PeerDialTLS {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
}

function peerDialTls(cfg: ServerConfig): PeerDialTLS | undefined {
  const t = cfg.peerTls;
  if (t === undefined) return undefined;
  return {
    // etcd 3.5's --peer-client-cert-file/--peer-client-key-file, else the peer certificate.
    cert: fs.readFileSync(t.clientCertFile || t.certFile),
    key: fs.readFileSync(t.clientKeyFile || t.keyFile),
    ...(t.trustedCaFile ? { ca: fs.readFileSync(t.trustedCaFile) } : {}),
    // etcd verifies a peer's certificate (against --peer-trusted-ca-file, else the system's
    // roots) unless its own is self-signed by --peer-auto-tls: then it skips verification.
    rejectUnauthorized: t.selfSigned !== true,
  };
}

function raftLoggerFrom(lg: Logger): RaftLogger {
  const f = (level: 'debug' | 'info' | 'warn' | 'error') => (msg: string) => lg[level]({}, msg);
  return {
    debug: f('debug'),
    info: f('info'),
    warn: f('warn'),
    error: f('error'),
  };
}

const emptyConfState = (): ConfState => ({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

/** The backend and the stores on it: lessor first, since mvcc re-attaches leased keys. */
async function openStores(
  cfg: ServerConfig,
  clock: Clock,
  dbPath: string,
  electionTick: number,
  onFatal: (err: Error) => void,
) {
  const lg = cfg.logger;
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
    onFatal,
  });
  const cluster = new RaftCluster();
  cluster.setBackend(backend);
  const lessor = new Lessor({
    backend,
    minLeaseTTL: minLeaseTTL(electionTick, cfg.heartbeatMs),
    logger: lg,
  });
  const kv = new WatchableStore(backend, { logger: lg, lessor });
  lessor.setRangeDeleter(() => kv.write());
  const alarms = new AlarmStore(backend);
  // Simple tokens carry the raft index of their Authenticate entry; a request presenting
  // one waits until this member has applied that far.
  const appliedWaiters = new AppliedIndexWaiters(0);
  const authStore = new AuthStore({
    backend,
    tokenProvider: newTokenProvider(cfg.authToken, {
      simpleTokenTtlMs: cfg.authTokenTtl * 1000,
      indexWaiter: (index, signal) => appliedWaiters.wait(index, signal),
      logger: lg,
      clock,
    }),
    bcryptCost: cfg.bcryptCost,
    logger: lg,
  });
  return { backend, cluster, lessor, kv, alarms, authStore, appliedWaiters };
}

/**
 * Reads a member's data dir (etcd's bootstrap): a new member when there is no WAL yet
 * (ids derived from --initial-cluster, raft bootstrapped with one ConfChange per member),
 * otherwise a restart (the newest usable snapshot, then the WAL after it; entries the
 * backend already holds, by its consistent index, are not applied twice).
 */
export async function bootstrap(
  cfg: ServerConfig,
  clock: Clock,
  onFatal: (err: Error) => void,
): Promise<Bootstrapped> {
  const lg = cfg.logger;
  const memberDir = path.join(cfg.dataDir, 'member');
  const walDir = path.join(memberDir, 'wal');
  const snapDir = path.join(memberDir, 'snap');
  fs.mkdirSync(snapDir, { recursive: true, mode: 0o700 });
  // Snapshot RPC files an older version left behind after a crash.
  for (const f of fs.readdirSync(snapDir))
    if (/^snapshot-.*\.tmp$/.test(f)) fs.rmSync(path.join(snapDir, f), { force: true });
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
  const electionTick = Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
  const stores = await openStores(cfg, clock, path.join(snapDir, 'db'), electionTick, onFatal);
  const snapshotter = new Snapshotter(snapDir);
  const storage = new MemoryStorage();
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
  const base = {
    ...stores,
    snapshotter,
    storage,
    electionTick,
    snapDir,
    peerTls: peerDialTls(cfg),
  };
  try {
    if (await walExists(walDir)) {
      const restarted = await restartFromWal(cfg, walDir, base, raftCfg);
      if (restarted !== undefined) return restarted;
    }
    return await startNewMember(cfg, walDir, base, raftCfg);
  } catch (err) {
    // A member that cannot start lets go of its files (the caller may exit or retry).
    stores.lessor.stop();
    await stores.kv.close();
    await stores.backend.close();
    throw err;
  }
}

type Base = Omit<
  Bootstrapped,
  | 'memberId'
  | 'rn'
  | 'wal'
  | 'hardState'
  | 'confState'
  | 'snapshotIndex'
  | 'appliedIndex'
  | 'appliedTerm'
  | 'remotes'
>;
type RaftConfig = Omit<ConstructorParameters<typeof RawNode>[0], 'id'>;

/** A restart; undefined when the WAL holds nothing and the member bootstraps again. */
async function restartFromWal(
  cfg: ServerConfig,
  walDir: string,
  b: Base,
  raftCfg: RaftConfig,
): Promise<Bootstrapped | undefined> {
  const lg = cfg.logger;
  const { kv, cluster, storage } = b;
  const walSnaps = await validSnapshotEntries(walDir);
  let snap: Snapshot | undefined;
  try {
    snap = await b.snapshotter.loadNewestAvailable(walSnaps);
  } catch (err) {
    if (!(err instanceof ErrNoSnapshot)) throw err;
  }
  const marker = snap === undefined ? { index: 0, term: 0 } : snap.metadata;
  const wal = await WAL.open(walDir, marker, { unsafeNoFsync: cfg.unsafeNoFsync });
  const { metadata, state, entries } = await wal.readAll();
  const ci = kv.consistentIndex().index;
  if (snap === undefined && entries.length === 0 && state.commit === 0 && ci === 0) {
    // The first start stopped between creating the WAL and saving raft's bootstrap
    // entries: nothing was ever committed, so bootstrapping again loses nothing.
    lg.warn({ 'wal-dir': walDir }, 'WAL holds no raft entries; bootstrapping the member again');
    await wal.close();
    fs.rmSync(walDir, { recursive: true, force: true });
    return undefined;
  }
  // The backend can never have applied what the WAL does not hold: that data would have
  // no log behind it (etcd refuses to start on such a data dir).
  const lastIndex = entries.at(-1)?.index ?? marker.index;
  if (ci > lastIndex) {
    await wal.close();
    invariant(
      false,
      () => `backend consistent index ${ci} is ahead of the WAL's last index ${lastIndex}`,
    );
  }
  const md = etcdserverpb.Metadata.decode(metadata);
  const memberId = md.NodeID ?? 0n;
  cluster.clusterId = md.ClusterID ?? 0n;
  cluster.localId = memberId;
  cluster.recover();
  let confState = emptyConfState();
  let snapshotIndex = 0;
  let appliedTerm = 0;
  if (snap !== undefined) {
    storage.applySnapshot(snap);
    confState = snap.metadata.confState;
    snapshotIndex = snap.metadata.index;
    appliedTerm = snap.metadata.term;
    // etcd 3.4 keeps membership in the snapshot's v2 store; a restored data dir's backend
    // still names the old cluster's members, so the snapshot wins whenever the backend
    // holds nothing newer than it.
    const v2 = membershipFromV2Store(snap.data);
    if (v2 !== undefined && ci <= snap.metadata.index) {
      cluster.resetTo(v2);
      lg.info(
        { 'snapshot-index': snap.metadata.index, members: v2.members.map((m) => idToHex(m.id)) },
        'recovered membership from the snapshot',
      );
    }
    if (ci < snap.metadata.index) {
      // The member stopped after saving a snapshot from its leader and before installing
      // its database: install it now (etcd's recoverSnapshotBackend). Without that
      // database the backend misses entries the WAL no longer holds.
      lg.warn(
        { 'consistent-index': ci, 'snapshot-index': snap.metadata.index },
        'backend consistent index is behind the snapshot',
      );
      invariant(
        fs.existsSync(snapshotDBPath(b.snapDir, snap.metadata.index)),
        () =>
          `failed to recover v3 backend from snapshot: failed to find database snapshot file for index ${snap!.metadata.index}`,
      );
      await installSnapshot({ ...b, noSync: cfg.unsafeNoFsync, lg }, snap);
    }
  }
  let hardState = state;
  let log = entries;
  if (cfg.forceNewCluster) {
    ({ hardState, entries: log } = await forceNewCluster(
      wal,
      memberId,
      confState,
      state,
      entries,
      lg,
    ));
  }
  storage.setHardState(hardState);
  storage.append(log);
  const rn = new RawNode({ ...raftCfg, id: memberId });
  lg.info(
    {
      'local-member-id': idToHex(memberId),
      'cluster-id': idToHex(cluster.clusterId),
      commit: state.commit,
      term: state.term,
      'snapshot-index': snapshotIndex,
      entries: log.length,
      'consistent-index': ci,
      'force-new-cluster': cfg.forceNewCluster,
    },
    'restarting local member',
  );
  b.appliedWaiters.advance(snapshotIndex);
  return {
    ...b,
    memberId,
    rn,
    wal,
    hardState,
    confState,
    snapshotIndex,
    appliedIndex: snapshotIndex,
    appliedTerm,
    remotes: [],
  };
}

/** A new member of a new cluster, from --initial-cluster. */
async function startNewMember(
  cfg: ServerConfig,
  walDir: string,
  b: Base,
  raftCfg: RaftConfig,
): Promise<Bootstrapped> {
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
  let memberId = local.id;
  let clusterId = initial.clusterId;
  let remotes: Member[] = [];
  if (cfg.initialClusterState === 'existing') {
    // Joining: the cluster's own ids, learned from its members (etcd's
    // GetClusterFromRemotePeers + ValidateClusterAndAssignIDs); raft starts empty and the
    // leader brings this member up to date, by snapshot if its log no longer reaches back.
    const existing = await clusterFromPeers(
      initial
        .sortedMembers()
        .filter((m) => m !== local)
        .flatMap((m) => m.peerUrls),
      b.peerTls,
      cfg.logger,
    );
    memberId = assignIds(initial, existing.members, local);
    clusterId = existing.clusterId;
    // Reached through the transport until their ConfChanges replay here (etcd's AddRemote):
    // the membership itself is rebuilt from the log, as on every member.
    remotes = existing.members;
  }
  b.cluster.clusterId = clusterId;
  b.cluster.localId = memberId;
  const metadata = etcdserverpb.Metadata.encode({
    NodeID: memberId,
    ClusterID: clusterId,
  }).finish();
  // A backend left over from a crashed first start holds nothing we can trust.
  const wal = await WAL.create(walDir, metadata, { unsafeNoFsync: cfg.unsafeNoFsync });
  const rn = new RawNode({ ...raftCfg, id: memberId });
  if (cfg.initialClusterState === 'new')
    rn.bootstrap(
      initial.sortedMembers().map((m) => ({ id: m.id, context: Buffer.from(memberToJson(m)) })),
    );
  cfg.logger.info(
    {
      'local-member-id': idToHex(memberId),
      'cluster-id': idToHex(clusterId),
      'initial-cluster-state': cfg.initialClusterState,
      'initial-cluster': [...cfg.initialCluster].map(([n, u]) => `${n}=${u.join(',')}`).join(','),
    },
    'starting local member',
  );
  return {
    ...b,
    memberId,
    rn,
    wal,
    hardState: { term: 0, vote: NONE, commit: 0 },
    confState: emptyConfState(),
    snapshotIndex: 0,
    appliedIndex: 0,
    appliedTerm: 0,
    remotes,
  };
}

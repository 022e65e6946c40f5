import { createHash } from 'node:crypto';
import { etcdserverpb } from '@etcd-ts/api';
import { boltSnapshotFormat, type SnapshotFormat } from '@etcd-ts/backend';
import { NONE } from '@etcd-ts/raft';
import { status as Status } from '@grpc/grpc-js';
import { alarmString } from '../alarms.js';
import { SERVER_VERSION } from '../config.js';
import { Errors, EtcdServerError } from '../errors.js';
import { moveLeader } from '../leadership.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';

/** etcd's snapshotSendBufferSize: the blob size of each Snapshot response. */
export const SNAPSHOT_SEND_BUFFER_BYTES = 32 * 1024;

/**
 * etcd's maintenance requests (v3rpc/maintenance.go with the server behind it): alarms,
 * status, defragment, hashes, the snapshot stream, leader transfer and downgrade. Every
 * one but Status needs the root role when auth is enabled.
 */
export class Maintenance {
  constructor(
    private readonly s: EtcdServer,
    /** etcd's format: a bbolt file then its sha256, which etcdctl checks and strips. */
    private readonly snapshotFormat: SnapshotFormat = boltSnapshotFormat,
  ) {}

  async alarm(
    req: etcdserverpb.AlarmRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.AlarmResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const resp = await this.s.raftRequest('alarm', req);
    return { ...resp, header: this.s.header() };
  }

  status(): etcdserverpb.StatusResponse {
    const s = this.s;
    const errors: string[] = [];
    if (s.leaderId === NONE) errors.push(Errors.noLeader().message);
    for (const a of s.alarms.get(etcdserverpb.AlarmType.NONE)) errors.push(alarmString(a));
    return {
      header: s.header(),
      version: SERVER_VERSION,
      dbSize: s.backend.size(),
      leader: s.leaderId,
      raftIndex: s.committed,
      raftTerm: s.term,
      raftAppliedIndex: s.applied,
      errors,
      dbSizeInUse: s.backend.sizeInUse(),
      isLearner: s.cluster.member(s.memberId)?.isLearner ?? false,
    };
  }

  async defragment(caller: Caller = anonymous): Promise<etcdserverpb.DefragmentResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    this.s.lg.info({}, 'starting defragment');
    await this.s.backend.defrag();
    this.s.lg.info({}, 'finished defragment');
    return { header: this.s.header() };
  }

  async hash(caller: Caller = anonymous): Promise<etcdserverpb.HashResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const h = this.s.kv.hash();
    return { header: this.s.header(h.rev), hash: h.hash };
  }

  async hashKV(
    req: etcdserverpb.HashKVRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.HashKVResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const h = await this.s.kv.hashByRevAsync(req.revision);
    return { header: this.s.header(h.rev), hash: h.hash, compactRevision: h.compactRev };
  }

  async moveLeader(
    req: etcdserverpb.MoveLeaderRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.MoveLeaderResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    await moveLeader(this.s, req.targetID);
    return { header: this.s.header() };
  }

  /** Downgrades are validated as etcd 3.5 does, then refused: etcd-ts cannot run as 3.4. */
  async downgrade(
    req: etcdserverpb.DowngradeRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.DowngradeResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    if (req.action === etcdserverpb.DowngradeRequest_DowngradeAction.CANCEL)
      throw Errors.noInflightDowngrade();
    const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(req.version);
    const [maj, min] = SERVER_VERSION.split('.').map(Number) as [number, number];
    if (m === null || Number(m[1]) !== maj || Number(m[2]) !== min - 1)
      throw Errors.invalidDowngradeTargetVersion();
    throw new EtcdServerError(
      'etcdserver: cluster version downgrade is not supported by etcd-ts',
      Status.FAILED_PRECONDITION,
    );
  }

  /**
   * The Snapshot stream (etcd's Maintenance.Snapshot): the backend's consistent read in
   * `snapshotFormat`, straight from the read transaction to the client — no copy on disk,
   * memory bounded by one chunk — in SNAPSHOT_SEND_BUFFER_BYTES blobs counting
   * remaining_bytes down from the file's size (known once the format has laid it out),
   * then the sha256. A client that reads slowly holds the read transaction open, as a
   * slow client holds etcd's bbolt read transaction.
   */
  async *snapshot(caller: Caller = anonymous): AsyncGenerator<etcdserverpb.SnapshotResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    this.s.backend.forceCommit();
    let total = -1;
    const chunks = this.s.backend.snapshot().chunks(this.snapshotFormat, (n) => {
      total = n;
    });
    const sha = createHash('sha256');
    let sent = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const blob = (bytes: number): etcdserverpb.SnapshotResponse => {
      const all = Buffer.concat(pending, pendingBytes);
      const out = all.subarray(0, bytes);
      const rest = all.subarray(bytes);
      pending = rest.length > 0 ? [Buffer.from(rest)] : [];
      pendingBytes = rest.length;
      sent += out.length;
      sha.update(out);
      return { header: undefined, remainingBytes: Math.max(0, total - sent), blob: out };
    };
    try {
      for await (const chunk of chunks) {
        if (sent === 0 && pendingBytes === 0) {
          if (total < 0) throw new Error('snapshot: the format did not tell its size');
          this.s.lg.info({ 'total-bytes': total }, 'sending database snapshot to client');
        }
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.length;
        while (pendingBytes >= SNAPSHOT_SEND_BUFFER_BYTES) yield blob(SNAPSHOT_SEND_BUFFER_BYTES);
      }
      if (pendingBytes > 0) yield blob(pendingBytes);
    } finally {
      // A client that went away: the read transaction is released at once.
      await chunks.return(undefined);
    }
    if (sent !== total) throw new Error(`snapshot: sent ${sent} bytes of ${total}`);
    yield { header: undefined, remainingBytes: 0, blob: sha.digest() };
    this.s.lg.info({ 'total-bytes': total }, 'sent database snapshot to client');
  }
}

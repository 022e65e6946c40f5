import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
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
  private snapshotSeq = 0;

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
    const h = this.s.kv.hashByRev(req.revision);
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
   * The Snapshot stream: the backend's consistent read in `snapshotFormat`, written to a
   * temporary file beside the data first (memory bounded by a chunk, the read txn released
   * as soon as the file is written rather than held while a slow client reads), then sent
   * in SNAPSHOT_SEND_BUFFER_BYTES blobs counting remaining_bytes down, and last the sha256.
   */
  async *snapshot(caller: Caller = anonymous): AsyncGenerator<etcdserverpb.SnapshotResponse> {
    this.s.assertNotLearner();
    this.s.authStore.isAdminPermitted(await caller.authInfo());
    const { file, size } = await this.writeSnapshotFile();
    this.s.lg.info({ 'total-bytes': size }, 'sending database snapshot to client');
    const sha = createHash('sha256');
    try {
      const fh = await fsp.open(file, 'r');
      try {
        const buf = Buffer.alloc(SNAPSHOT_SEND_BUFFER_BYTES);
        let sent = 0;
        while (sent < size) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, sent);
          if (bytesRead === 0) throw new Error('snapshot file shrank while sending');
          const blob = Buffer.from(buf.subarray(0, bytesRead));
          sent += bytesRead;
          sha.update(blob);
          yield { header: undefined, remainingBytes: size - sent, blob };
        }
      } finally {
        await fh.close();
      }
    } finally {
      await fsp.rm(file, { force: true });
    }
    yield { header: undefined, remainingBytes: 0, blob: sha.digest() };
    this.s.lg.info({ 'total-bytes': size }, 'sent database snapshot to client');
  }

  private async writeSnapshotFile(): Promise<{ file: string; size: number }> {
    const s = this.s;
    const name = `snapshot-${process.pid}-${s.clock.now()}-${this.snapshotSeq++}.tmp`;
    const file = path.join(s.cfg.dataDir, 'member', 'snap', name);
    const fh = await fsp.open(file, 'w', 0o600);
    let size = 0;
    try {
      for await (const chunk of s.backend.snapshot().chunks(this.snapshotFormat)) {
        await fh.write(chunk);
        size += chunk.length;
      }
    } catch (err) {
      await fh.close();
      await fsp.rm(file, { force: true });
      throw err;
    }
    await fh.close();
    return { file, size };
  }
}

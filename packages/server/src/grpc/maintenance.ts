import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { etcdserverpb } from '@etcd-ts/api';
import { boltSnapshotFormat, type SnapshotFormat } from '@etcd-ts/backend';
import { NONE } from '@etcd-ts/raft';
import { type ServerWritableStream, type ServiceError, status as Status } from '@grpc/grpc-js';
import { alarmString } from '../alarms.js';
import { SERVER_VERSION } from '../config.js';
import { Errors, EtcdServerError, toGrpcError } from '../errors.js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

/** etcd's snapshotSendBufferSize: the blob size of each Snapshot response. */
export const SNAPSHOT_SEND_BUFFER_BYTES = 32 * 1024;
/**
 * Writes the snapshot the backend produces in `format` (etcd's bbolt file by default) to a
 * temporary file next to the data: a consistent read of every bucket, memory bounded by a
 * chunk, and the read transaction released as soon as the file is written rather than
 * held for as long as a slow client reads. Returns its path and size (which the responses'
 * remaining_bytes count down from); the caller removes it.
 */
async function writeSnapshotFile(
  s: EtcdServer,
  format: SnapshotFormat,
): Promise<{ file: string; size: number }> {
  const file = path.join(
    s.cfg.dataDir,
    'member',
    'snap',
    `snapshot-${process.pid}-${Date.now()}-${snapshotSeq++}.tmp`,
  );
  const fh = await fsp.open(file, 'w', 0o600);
  let size = 0;
  try {
    for await (const chunk of s.backend.snapshot().chunks(format)) {
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

let snapshotSeq = 0;

/** etcd's Maintenance service. */
export function maintenanceService(
  s: EtcdServer,
  opts: {
    snapshotFormat?: SnapshotFormat;
    requireRoot?: (md: import('@grpc/grpc-js').Metadata) => Promise<void>;
  } = {},
): etcdserverpb.MaintenanceServer {
  // etcd's format: a bbolt file then its sha256, which etcdctl checks and strips.
  const format = opts.snapshotFormat ?? boltSnapshotFormat;
  const root = async (md: import('@grpc/grpc-js').Metadata) => {
    if (opts.requireRoot !== undefined) await opts.requireRoot(md);
  };
  return {
    alarm: unary(async (req, call) => {
      await root(call.metadata);
      const resp = (await s.raftRequest({ alarm: req })) as etcdserverpb.AlarmResponse;
      resp.header = s.header();
      return resp;
    }),
    status: unary(() => {
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
    }),
    defragment: unary(async (_req, call) => {
      await root(call.metadata);
      s.lg.info({}, 'starting defragment');
      await s.backend.defrag();
      s.lg.info({}, 'finished defragment');
      return { header: s.header() };
    }),
    hash: unary(async (_req, call) => {
      await root(call.metadata);
      const h = s.kv.hash();
      return { header: s.header(h.rev), hash: h.hash };
    }),
    hashKv: unary(async (req, call) => {
      await root(call.metadata);
      const h = s.kv.hashByRev(req.revision);
      return { header: s.header(h.rev), hash: h.hash, compactRevision: h.compactRev };
    }),
    snapshot: (
      call: ServerWritableStream<etcdserverpb.SnapshotRequest, etcdserverpb.SnapshotResponse>,
    ) => {
      void (async () => {
        try {
          await root(call.metadata);
          const { file, size } = await writeSnapshotFile(s, format);
          s.lg.info({ 'total-bytes': size }, 'sending database snapshot to client');
          const sha = createHash('sha256');
          try {
            const fh = await fsp.open(file, 'r');
            try {
              const buf = Buffer.alloc(SNAPSHOT_SEND_BUFFER_BYTES);
              let sent = 0;
              while (sent < size) {
                if (call.cancelled) return;
                const { bytesRead } = await fh.read(buf, 0, buf.length, sent);
                if (bytesRead === 0) throw new Error('snapshot file shrank while sending');
                const blob = Buffer.from(buf.subarray(0, bytesRead));
                sent += bytesRead;
                sha.update(blob);
                const more = call.write({ header: undefined, remainingBytes: size - sent, blob });
                if (!more) await new Promise((r) => call.once('drain', r));
              }
            } finally {
              await fh.close();
            }
          } finally {
            await fsp.rm(file, { force: true });
          }
          call.write({ header: undefined, remainingBytes: 0, blob: sha.digest() });
          s.lg.info({ 'total-bytes': size }, 'sent database snapshot to client');
          call.end();
        } catch (err) {
          call.destroy(
            Object.assign(new Error((err as Error).message), toGrpcError(err)) as ServiceError,
          );
        }
      })();
    },
    moveLeader: unary(async (req, call) => {
      await root(call.metadata);
      await s.moveLeader(req.targetID);
      return { header: s.header() };
    }),
    downgrade: unary(async (req, call) => {
      await root(call.metadata);
      const A = etcdserverpb.DowngradeRequest_DowngradeAction;
      if (req.action === A.CANCEL) throw Errors.noInflightDowngrade();
      const m = /^(\d+)\.(\d+)(\.\d+)?$/.exec(req.version);
      const [maj, min] = SERVER_VERSION.split('.').map(Number) as [number, number];
      if (m === null || Number(m[1]) !== maj || Number(m[2]) !== min - 1)
        throw Errors.invalidDowngradeTargetVersion();
      throw new EtcdServerError(
        'etcdserver: cluster version downgrade is not supported by etcd-ts',
        Status.FAILED_PRECONDITION,
      );
    }),
  };
}

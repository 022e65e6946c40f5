import { Readable } from 'node:stream';
import { etcdserverpb } from '@etcd-ts/api';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { CallOptions, Connection } from './connection.js';
import { fromServiceError, isServiceError } from './errors.js';

export type AlarmName = 'NOSPACE' | 'CORRUPT';

/**
 * Per-member operations (clientv3's Maintenance). Most target one member: pass its
 * endpoint (one of the client's) in `options.endpoint`, else any connected one answers.
 */
export class Maintenance {
  constructor(private readonly conn: Connection) {}

  status(options: CallOptions = {}): Promise<etcdserverpb.StatusResponse> {
    return this.conn.unary(etcdserverpb.MaintenanceService.status, {}, 'idempotent', options);
  }

  /** Alarms raised anywhere in the cluster. */
  alarmList(options: CallOptions = {}): Promise<etcdserverpb.AlarmResponse> {
    return this.conn.unary(
      etcdserverpb.MaintenanceService.alarm,
      {
        action: etcdserverpb.AlarmRequest_AlarmAction.GET,
        memberID: 0n,
        alarm: etcdserverpb.AlarmType.NONE,
      },
      'idempotent',
      options,
    );
  }

  /**
   * Clears an alarm; with no member and no alarm, clears every raised alarm (as clientv3
   * does: it lists them and disarms each).
   */
  async alarmDisarm(
    alarm?: { memberID: bigint; alarm: etcdserverpb.AlarmType },
    options: CallOptions = {},
  ): Promise<etcdserverpb.AlarmResponse> {
    const request = (a: { memberID: bigint; alarm: etcdserverpb.AlarmType }) =>
      this.conn.unary(
        etcdserverpb.MaintenanceService.alarm,
        { action: etcdserverpb.AlarmRequest_AlarmAction.DEACTIVATE, ...a },
        'idempotent',
        options,
      );
    if (alarm !== undefined) return request(alarm);
    const raised = await this.alarmList(options);
    const disarmed: etcdserverpb.AlarmMember[] = [];
    let last: etcdserverpb.AlarmResponse = raised;
    for (const a of raised.alarms) {
      last = await request({ memberID: a.memberID, alarm: a.alarm });
      disarmed.push(...last.alarms);
    }
    return { header: last.header, alarms: disarmed };
  }

  defragment(options: CallOptions = {}): Promise<etcdserverpb.DefragmentResponse> {
    return this.conn.unary(etcdserverpb.MaintenanceService.defragment, {}, 'idempotent', options);
  }

  /** Hash of the member's whole backend (for testing; prefer hashKV). */
  hash(options: CallOptions = {}): Promise<etcdserverpb.HashResponse> {
    return this.conn.unary(etcdserverpb.MaintenanceService.hash, {}, 'idempotent', options);
  }

  /** Hash of the key space up to `revision` (0: the newest), comparable across members. */
  hashKV(revision = 0, options: CallOptions = {}): Promise<etcdserverpb.HashKVResponse> {
    return this.conn.unary(
      etcdserverpb.MaintenanceService.hashKv,
      { revision },
      'idempotent',
      options,
    );
  }

  /**
   * The member's backend as a byte stream (etcd's snapshot file: a bbolt database
   * followed by its sha256). `remaining` reports the bytes the server still has to send.
   */
  async snapshot(
    options: Omit<CallOptions, 'timeout'> & { onProgress?: (remaining: number) => void } = {},
  ): Promise<Readable> {
    const call: ClientReadableStream<etcdserverpb.SnapshotResponse> = await this.conn.serverStream(
      etcdserverpb.MaintenanceService.snapshot,
      {},
      options,
    );
    const out = new Readable({
      read() {
        call.resume();
      },
      destroy(err, callback) {
        call.cancel();
        callback(err);
      },
    });
    call.on('data', (response: etcdserverpb.SnapshotResponse) => {
      options.onProgress?.(response.remainingBytes);
      if (response.blob.length > 0 && !out.push(Buffer.from(response.blob))) call.pause();
    });
    call.on('end', () => out.push(null));
    call.on('error', (err: unknown) =>
      out.destroy(isServiceError(err) ? fromServiceError(err) : (err as Error)),
    );
    return out;
  }

  /** Transfers leadership to `targetID`; must be sent to the current leader's endpoint. */
  moveLeader(
    targetID: bigint,
    options: CallOptions = {},
  ): Promise<etcdserverpb.MoveLeaderResponse> {
    return this.conn.unary(
      etcdserverpb.MaintenanceService.moveLeader,
      { targetID },
      'mutation',
      options,
    );
  }

  /** Validates, enables or cancels a cluster downgrade to `version` (etcd >= 3.5). */
  downgrade(
    action: 'validate' | 'enable' | 'cancel',
    version: string,
    options: CallOptions = {},
  ): Promise<etcdserverpb.DowngradeResponse> {
    const actions = {
      validate: etcdserverpb.DowngradeRequest_DowngradeAction.VALIDATE,
      enable: etcdserverpb.DowngradeRequest_DowngradeAction.ENABLE,
      cancel: etcdserverpb.DowngradeRequest_DowngradeAction.CANCEL,
    };
    return this.conn.unary(
      etcdserverpb.MaintenanceService.downgrade,
      { action: actions[action], version },
      'mutation',
      options,
    );
  }
}

import { etcdserverpb } from '@etcd-ts/api';
import {
  applyDeleteRange,
  applyPut,
  applyRange,
  applyTxn,
  header,
  type WatchableStore,
} from '@etcd-ts/mvcc';
import type { AlarmStore } from './alarms.js';
import { Errors } from './errors.js';
import type { RaftCluster } from './membership.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;
const AlarmAction = etcdserverpb.AlarmRequest_AlarmAction;
const AlarmType = etcdserverpb.AlarmType;

/** What applying one request produced: a response or an error, and for a compaction the
 * promise of its physical removal (etcd's applyResult). */
export interface ApplyResult {
  resp?: unknown;
  err?: Error;
  /** Settles when a compaction's revisions are physically gone. */
  physc?: Promise<void>;
}

/**
 * How leases plug into the apply layer (the lessor of @etcd-ts/lease behind it): every
 * call runs while an entry is applied, so it is deterministic on every member.
 */
export interface LeaseApplier {
  grant(r: etcdserverpb.LeaseGrantRequest): etcdserverpb.LeaseGrantResponse;
  revoke(r: etcdserverpb.LeaseRevokeRequest): etcdserverpb.LeaseRevokeResponse;
  checkpoint(r: etcdserverpb.LeaseCheckpointRequest): etcdserverpb.LeaseCheckpointResponse;
}

/** How auth plugs into the apply layer: every Auth* request of InternalRaftRequest. */
export interface AuthApplier {
  /**
   * Applies one auth request (the one field of `r` that is set) at raft index `index`;
   * returns its response (a promise for Authenticate), undefined when `r` is not an
   * auth request.
   */
  apply(r: InternalRaftRequest, index: number): unknown | undefined;
  /** Whether `r`'s user may run it (checked at apply time, as etcd's authApplierV3 does). */
  checkPermission?(r: InternalRaftRequest): void;
}

export interface ApplierDeps {
  kv: WatchableStore;
  alarms: AlarmStore;
  cluster: RaftCluster;
  lessor?: LeaseApplier;
  auth?: AuthApplier;
  /** Called when a NOSPACE alarm is raised or cleared (the server logs it). */
  onAlarm?(m: etcdserverpb.AlarmMember, active: boolean): void;
  onClusterVersion?(version: string): void;
}

function txnHasWrites(r: etcdserverpb.TxnRequest): boolean {
  for (const op of [...r.success, ...r.failure]) {
    if (op.requestPut !== undefined || op.requestDeleteRange !== undefined) return true;
    if (op.requestTxn !== undefined && txnHasWrites(op.requestTxn)) return true;
  }
  return false;
}

/**
 * Applies committed requests to the state machine (etcd's applierV3): the mvcc store, the
 * alarms, the membership attributes, and leases and auth when they are wired. While a
 * NOSPACE alarm stands, writes that could grow the database fail (etcd's capped applier).
 */
export class Applier {
  constructor(private readonly d: ApplierDeps) {}

  apply(r: InternalRaftRequest, index = 0): ApplyResult {
    try {
      this.d.auth?.checkPermission?.(r);
      return this.dispatch(r, index);
    } catch (err) {
      return { err: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  private get capped(): boolean {
    return this.d.alarms.has(AlarmType.NOSPACE);
  }

  private dispatch(r: InternalRaftRequest, index: number): ApplyResult {
    const kv = this.d.kv;
    if (r.range !== undefined) return { resp: applyRange(kv.read(), r.range) };
    if (r.put !== undefined) {
      if (this.capped) throw Errors.noSpace();
      return { resp: applyPut(kv, r.put) };
    }
    if (r.deleteRange !== undefined) return { resp: applyDeleteRange(kv, r.deleteRange) };
    if (r.txn !== undefined) {
      if (this.capped && txnHasWrites(r.txn)) throw Errors.noSpace();
      return { resp: applyTxn(kv, r.txn, { validate: false }) };
    }
    if (r.compaction !== undefined) {
      const physc = kv.compact(r.compaction.revision);
      // Physical removal runs in the background; a failure there is logged by mvcc.
      physc.catch(() => {});
      return { resp: { header: header(kv.rev()) }, physc };
    }
    if (r.alarm !== undefined) return { resp: this.alarm(r.alarm) };
    if (r.leaseGrant !== undefined) {
      if (this.capped) throw Errors.noSpace();
      return { resp: this.lessor().grant(r.leaseGrant) };
    }
    if (r.leaseRevoke !== undefined) return { resp: this.lessor().revoke(r.leaseRevoke) };
    if (r.leaseCheckpoint !== undefined)
      return { resp: this.lessor().checkpoint(r.leaseCheckpoint) };
    if (r.clusterMemberAttrSet !== undefined) {
      const a = r.clusterMemberAttrSet;
      this.d.cluster.updateAttributes(
        a.memberID,
        a.memberAttributes?.name ?? '',
        a.memberAttributes?.clientUrls ?? [],
        true,
      );
      return { resp: {} };
    }
    if (r.clusterVersionSet !== undefined) {
      this.d.cluster.setVersion(r.clusterVersionSet.ver, true);
      this.d.onClusterVersion?.(r.clusterVersionSet.ver);
      return { resp: {} };
    }
    if (r.downgradeInfoSet !== undefined) return { resp: {} };
    if (this.d.auth !== undefined) {
      const resp = this.d.auth.apply(r, index);
      if (resp !== undefined) return { resp };
    }
    throw Errors.notCapable();
  }

  private lessor(): LeaseApplier {
    if (this.d.lessor === undefined) throw Errors.notCapable();
    return this.d.lessor;
  }

  private alarm(ar: etcdserverpb.AlarmRequest): etcdserverpb.AlarmResponse {
    const alarms = this.d.alarms;
    const resp: etcdserverpb.AlarmResponse = { header: header(this.d.kv.rev()), alarms: [] };
    switch (ar.action) {
      case AlarmAction.GET:
        resp.alarms = alarms.get(ar.alarm);
        break;
      case AlarmAction.ACTIVATE: {
        if (ar.alarm === AlarmType.NONE) break;
        const m = alarms.activate(ar.memberID, ar.alarm);
        if (m === undefined) break;
        resp.alarms.push(m);
        this.d.onAlarm?.(m, true);
        break;
      }
      case AlarmAction.DEACTIVATE: {
        const m = alarms.deactivate(ar.memberID, ar.alarm);
        if (m === undefined) break;
        resp.alarms.push(m);
        this.d.onAlarm?.(m, false);
        break;
      }
    }
    return resp;
  }
}

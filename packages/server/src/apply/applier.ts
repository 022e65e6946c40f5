import { etcdserverpb } from '@etcd-ts/api';
import type { AuthStore } from '@etcd-ts/auth';
import type { Lessor } from '@etcd-ts/lease';
import type { WatchableStore } from '@etcd-ts/mvcc';
import {
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  decodeConfChange,
  decodeConfChangeV2,
  type Entry,
  EntryType,
  NONE,
} from '@etcd-ts/raft';
import type { AlarmStore } from '../alarms.js';
import type { Logger } from '../config.js';
import { Errors } from '../errors.js';
import { idToHex } from '../ids.js';
import { InvariantError } from '../invariant.js';
import type { RaftCluster } from '../membership.js';
import { applyAlarm } from './alarms.js';
import { applyAuth, checkApplyPermission } from './auth.js';
import { applyDeleteRange, applyPut, applyRange, applyTxn, revisionHeader } from './kv.js';
import { applyLeaseCheckpoint, applyLeaseGrant, applyLeaseRevoke } from './lease.js';
import { applyConfChange, applyMemberAttrSet, validateConfChange } from './membership.js';
import { isTxnReadOnly, requestCost } from './txn.js';

type InternalRaftRequest = etcdserverpb.InternalRaftRequest;
const AlarmType = etcdserverpb.AlarmType;

/**
 * What applying one entry produced, handed to the request that proposed it (etcd's
 * applyResult): the response, or the error the request fails with; for a compaction,
 * the promise of its physical removal.
 */
export interface ApplyResult {
  resp?: unknown;
  err?: Error;
  /** Settles when a compaction's revisions are physically gone. */
  physc?: Promise<void>;
}

export interface ApplierDeps {
  kv: WatchableStore;
  lessor: Lessor;
  authStore: AuthStore;
  alarms: AlarmStore;
  cluster: RaftCluster;
  lg: Logger;
  /** Raft's side of a configuration change (the raft node's RawNode). */
  applyConfChangeToRaft(cc: ConfChange | ConfChangeV2): ConfState;
  /** Hands an entry's result to the request waiting on its id (etcd's wait.Trigger). */
  trigger(id: bigint, result: ApplyResult): void;
  /** Where the applied index starts: the snapshot the member started from. */
  appliedIndex: number;
  appliedTerm: number;
}

/**
 * The state machine's apply step (etcd's apply.go + applierV3): committed entries in
 * index order, each applied once (entries the backend already holds, by its consistent
 * index, only replay their raft side), every request dispatched to the applier of its
 * kind, checked for permission first. While a NOSPACE alarm stands, requests that could
 * grow the database fail (etcd's capped applier).
 */
export class Applier {
  private readonly d: ApplierDeps;
  private applied: number;
  private appliedT: number;
  private confState: ConfState | undefined;

  constructor(d: ApplierDeps) {
    this.d = d;
    this.applied = d.appliedIndex;
    this.appliedT = d.appliedTerm;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get appliedTerm(): number {
    return this.appliedT;
  }

  /** Raft's configuration after the last configuration change applied, if any was. */
  get latestConfState(): ConfState | undefined {
    return this.confState;
  }

  /** A raft snapshot was installed: everything up to it is applied. */
  restoredTo(index: number, term: number, confState: ConfState): void {
    if (index < this.applied)
      throw new InvariantError(`snapshot index ${index} is behind applied index ${this.applied}`);
    this.applied = index;
    this.appliedT = term;
    this.confState = confState;
  }

  /** Applies committed entries; those at or below the applied index are skipped. */
  applyEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    // etcd panics here: a gap means raft handed us entries out of order.
    if (first > this.applied + 1)
      throw new InvariantError(
        `first index of committed entry ${first} should be <= applied index ${this.applied} + 1`,
      );
    for (const e of entries) if (e.index > this.applied) this.applyEntry(e);
  }

  private applyEntry(e: Entry): void {
    // Entries the backend already holds (by its consistent index) are not applied again.
    const kv = this.d.kv;
    const fresh = e.index > kv.consistentIndex().index;
    switch (e.type) {
      case EntryType.EntryNormal:
        if (fresh) {
          kv.setConsistentIndex(e.index, e.term);
          // An empty entry is the one a new leader appends.
          if (e.data.length > 0) {
            const r = etcdserverpb.InternalRaftRequest.decode(e.data);
            const id = r.ID !== 0n ? r.ID : (r.header?.ID ?? 0n);
            this.d.trigger(id, this.apply(r, e.index));
          }
        }
        break;
      case EntryType.EntryConfChange: {
        const cc = decodeConfChange(e.data);
        if (!fresh) {
          // Applied before a restart: the membership in the backend has it already, but
          // raft's configuration is rebuilt from the log.
          this.confState = this.d.applyConfChangeToRaft(cc);
          break;
        }
        let result: ApplyResult;
        try {
          // Checked against the membership as it is now, on every member (etcd's
          // ValidateConfigurationChange); a change that no longer fits is a no-op to raft.
          validateConfChange(this.d.cluster, cc);
          this.confState = this.d.applyConfChangeToRaft(cc);
          result = { resp: applyConfChange(this.d.cluster, cc, true, this.d.lg) };
        } catch (err) {
          this.confState = this.d.applyConfChangeToRaft({ ...cc, nodeId: NONE });
          result = { err: err instanceof Error ? err : new Error(String(err)) };
        }
        kv.setConsistentIndex(e.index, e.term);
        this.d.trigger(cc.id, result);
        break;
      }
      case EntryType.EntryConfChangeV2:
        // Joint consensus: this server proposes none, but raft's configuration must follow
        // whatever a peer committed.
        this.confState = this.d.applyConfChangeToRaft(decodeConfChangeV2(e.data));
        if (fresh) kv.setConsistentIndex(e.index, e.term);
        break;
      default:
        throw new InvariantError(`unknown entry type ${String(e.type)} at index ${e.index}`);
    }
    this.applied = e.index;
    this.appliedT = e.term;
  }

  /** Applies one request at raft `index` (0 outside raft); never throws. */
  apply(r: InternalRaftRequest, index: number): ApplyResult {
    try {
      checkApplyPermission(this.d.authStore, this.d.lessor, r);
      if (this.d.alarms.has(AlarmType.NOSPACE) && requestCost(r) > 0) throw Errors.noSpace();
      return this.dispatch(r, index);
    } catch (err) {
      // A broken invariant stops the member; it is never a client's answer.
      if (err instanceof InvariantError) throw err;
      return { err: err instanceof Error ? err : new Error(String(err)) };
    }
  }

  private dispatch(r: InternalRaftRequest, index: number): ApplyResult {
    const { kv, lessor } = this.d;
    if (r.range !== undefined) return { resp: applyRange(kv.read(), r.range) };
    if (r.put !== undefined) return { resp: applyPut(kv, r.put) };
    if (r.deleteRange !== undefined) return { resp: applyDeleteRange(kv, r.deleteRange) };
    if (r.txn !== undefined) return { resp: applyTxn(kv, r.txn, isTxnReadOnly(r.txn)) };
    if (r.compaction !== undefined) {
      const physc = kv.compact(r.compaction.revision);
      // Physical removal runs in the background; a failure there is logged by mvcc.
      physc.catch(() => {});
      return { resp: { header: revisionHeader(kv.rev()) }, physc };
    }
    if (r.leaseGrant !== undefined)
      return { resp: applyLeaseGrant(lessor, kv.rev(), r.leaseGrant) };
    if (r.leaseRevoke !== undefined)
      return { resp: applyLeaseRevoke(lessor, () => kv.rev(), r.leaseRevoke) };
    if (r.leaseCheckpoint !== undefined)
      return { resp: applyLeaseCheckpoint(lessor, kv.rev(), r.leaseCheckpoint) };
    if (r.alarm !== undefined)
      return { resp: applyAlarm(this.d.alarms, kv.rev(), r.alarm, (m, on) => this.onAlarm(m, on)) };
    if (r.clusterMemberAttrSet !== undefined) {
      applyMemberAttrSet(this.d.cluster, r.clusterMemberAttrSet);
      return { resp: {} };
    }
    if (r.clusterVersionSet !== undefined) {
      const v = r.clusterVersionSet.ver;
      this.d.cluster.setVersion(v, true);
      this.d.lg.info({ 'cluster-version': v }, 'set initial cluster version');
      this.d.lg.info({ 'cluster-version': v }, 'enabled capabilities for version');
      return { resp: {} };
    }
    if (r.downgradeInfoSet !== undefined) return { resp: {} };
    const resp = applyAuth(this.d.authStore, r, index);
    if (resp !== undefined) return { resp };
    throw Errors.notCapable();
  }

  private onAlarm(m: etcdserverpb.AlarmMember, active: boolean): void {
    this.d.lg.warn(
      { 'member-id': idToHex(m.memberID), alarm: etcdserverpb.AlarmType[m.alarm] },
      active ? 'alarm raised' : 'alarm disarmed',
    );
  }
}

import type { etcdserverpb } from '@etcd-ts/api';
import { checkTxnPermission } from '../apply/auth.js';
import { applyRange, applyTxn } from '../apply/kv.js';
import {
  checkKey,
  checkPutRequest,
  isTxnReadOnly,
  isTxnSerializable,
  validateTxnRequest,
} from '../apply/txn.js';
import type { EtcdServer } from '../server.js';
import { anonymous, type Caller } from './caller.js';
import { checkQuota } from './quota.js';

/**
 * etcd's RaftKV (v3_server.go Range/Put/DeleteRange/Txn/Compact): requests checked as
 * etcd's gRPC layer checks them, reads served locally (after a ReadIndex round unless
 * serializable) with their permission checked here, writes proposed through raft with the
 * caller's user (their permission is checked as they apply). Every response carries a
 * full header.
 */
export class KV {
  constructor(private readonly s: EtcdServer) {}

  async range(
    req: etcdserverpb.RangeRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.RangeResponse> {
    if (!req.serializable) this.s.assertNotLearner();
    checkKey(req.key);
    this.s.authStore.isRangePermitted(await caller.authInfo(), req.key, req.rangeEnd);
    if (!req.serializable) await this.s.linearizableReadNotify();
    return this.s.filled(applyRange(this.s.kv.read(), req));
  }

  async put(
    req: etcdserverpb.PutRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.PutResponse> {
    this.s.assertNotLearner();
    checkPutRequest(req);
    await checkQuota(this.s, { put: req });
    return this.s.filled(await this.s.raftRequest('put', req, await caller.authInfo()));
  }

  async deleteRange(
    req: etcdserverpb.DeleteRangeRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.DeleteRangeResponse> {
    this.s.assertNotLearner();
    checkKey(req.key);
    return this.s.filled(await this.s.raftRequest('deleteRange', req, await caller.authInfo()));
  }

  async txn(
    req: etcdserverpb.TxnRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.TxnResponse> {
    this.s.assertNotLearner();
    validateTxnRequest(req, this.s.cfg.maxTxnOps);
    const ai = await caller.authInfo();
    let resp: etcdserverpb.TxnResponse;
    if (isTxnReadOnly(req)) {
      checkTxnPermission(this.s.authStore, this.s.lessor, ai, req);
      if (!isTxnSerializable(req)) await this.s.linearizableReadNotify();
      resp = applyTxn(this.s.kv, req, true);
    } else {
      await checkQuota(this.s, { txn: req });
      resp = await this.s.raftRequest('txn', req, ai);
    }
    return this.s.filled(resp);
  }

  async compact(
    req: etcdserverpb.CompactionRequest,
    caller: Caller = anonymous,
  ): Promise<etcdserverpb.CompactionResponse> {
    this.s.assertNotLearner();
    const { resp, physc } = await this.s.propose('compaction', req, await caller.authInfo());
    if (req.physical && physc !== undefined) {
      await physc;
      // The removal must be on disk before the client is told it happened.
      this.s.backend.forceCommit();
    }
    return this.s.filled(resp);
  }
}

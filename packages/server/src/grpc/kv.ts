import type { etcdserverpb } from '@etcd-ts/api';
import { applyRange, applyTxn, validateTxnRequest } from '@etcd-ts/mvcc';
import { Errors } from '../errors.js';
import type { EtcdServer } from '../server.js';
import { unary } from './util.js';

type TxnRequest = etcdserverpb.TxnRequest;

function txnIsReadOnly(r: TxnRequest): boolean {
  for (const op of [...r.success, ...r.failure]) {
    if (op.requestPut !== undefined || op.requestDeleteRange !== undefined) return false;
    if (op.requestTxn !== undefined && !txnIsReadOnly(op.requestTxn)) return false;
  }
  return true;
}

function txnIsSerializable(r: TxnRequest): boolean {
  for (const op of [...r.success, ...r.failure]) {
    if (op.requestRange !== undefined && !op.requestRange.serializable) return false;
    if (op.requestTxn !== undefined && !txnIsSerializable(op.requestTxn)) return false;
  }
  return true;
}

function txnHasPut(r: TxnRequest): boolean {
  for (const op of [...r.success, ...r.failure]) {
    if (op.requestPut !== undefined) return true;
    if (op.requestTxn !== undefined && txnHasPut(op.requestTxn)) return true;
  }
  return false;
}

const valueProvided = Errors.valueProvided;
const leaseProvided = Errors.leaseProvided;

/** Hook the auth layer uses to check a request before it runs (throws when refused). */
export type KVAuthorizer = (
  call: { metadata: import('@grpc/grpc-js').Metadata },
  req: Partial<etcdserverpb.InternalRaftRequest>,
) => Promise<{ username: string; authRevision: number } | undefined>;

/**
 * etcd's KV service: reads served locally after a ReadIndex round (or at once when
 * serializable), writes proposed through raft, with the request checks of etcd's v3rpc
 * layer in front and the quota behind.
 */
export function kvService(s: EtcdServer, authorize?: KVAuthorizer): etcdserverpb.KVServer {
  const auth = async (
    call: { metadata: import('@grpc/grpc-js').Metadata },
    req: Partial<etcdserverpb.InternalRaftRequest>,
  ) => (authorize === undefined ? undefined : authorize(call, req));
  return {
    range: unary(async (req, call) => {
      if (req.key.length === 0) throw Errors.emptyKey();
      await auth(call, { range: req });
      if (!req.serializable) await s.linearizableReadNotify();
      const resp = applyRange(s.kv.read(), req);
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    put: unary(async (req, call) => {
      if (req.key.length === 0) throw Errors.emptyKey();
      if (req.ignoreValue && req.value.length !== 0) throw valueProvided();
      if (req.ignoreLease && req.lease !== 0n) throw leaseProvided();
      const user = await auth(call, { put: req });
      await s.checkQuota({ put: req });
      const resp = (await s.raftRequest({
        put: req,
        header: user && { ID: 0n, ...user },
      })) as etcdserverpb.PutResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    deleteRange: unary(async (req, call) => {
      if (req.key.length === 0) throw Errors.emptyKey();
      const user = await auth(call, { deleteRange: req });
      const resp = (await s.raftRequest({
        deleteRange: req,
        header: user && { ID: 0n, ...user },
      })) as etcdserverpb.DeleteRangeResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    txn: unary(async (req, call) => {
      validateTxnRequest(req, s.cfg.maxTxnOps);
      const user = await auth(call, { txn: req });
      if (txnIsReadOnly(req)) {
        if (!txnIsSerializable(req)) await s.linearizableReadNotify();
        const resp = applyTxn(s.kv, req, { validate: false });
        resp.header = s.fillHeader(resp.header);
        return resp;
      }
      if (txnHasPut(req)) await s.checkQuota({ txn: req });
      const resp = (await s.raftRequest({
        txn: req,
        header: user && { ID: 0n, ...user },
      })) as etcdserverpb.TxnResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
    compact: unary(async (req, call) => {
      const user = await auth(call, { compaction: req });
      const result = await s.propose({ compaction: req, header: user && { ID: 0n, ...user } });
      if (result.err !== undefined) throw result.err;
      if (req.physical && result.physc !== undefined) {
        await result.physc;
        // The removal must be on disk before the client is told it happened.
        s.backend.forceCommit();
      }
      const resp = result.resp as etcdserverpb.CompactionResponse;
      resp.header = s.fillHeader(resp.header);
      return resp;
    }),
  };
}

import type { etcdserverpb } from '@etcd-ts/api';
import { costPut, LEASE_OVERHEAD_BYTES } from '@etcd-ts/backend';
import { Errors } from '../errors.js';

// What the server needs to know about a TxnRequest before and after proposing it: which
// ops it holds (one walk, used for the read-only/serializable choice, the quota's cost and
// the permission checks), and etcd's gRPC-layer validation (checkTxnRequest and
// checkIntervals in v3rpc/key.go).

type TxnRequest = etcdserverpb.TxnRequest;
type RequestOp = etcdserverpb.RequestOp;
type DeleteRangeRequest = etcdserverpb.DeleteRangeRequest;
type InternalRaftRequest = etcdserverpb.InternalRaftRequest;

/** etcd's default --max-txn-ops. */
export const DEFAULT_MAX_TXN_OPS = 128;

/**
 * Every op of a txn that is not itself a txn, in both branches and in nested txns, depth
 * first: the one walk of a txn's ops (checks, cost and permissions all use it).
 */
export function* txnOps(t: TxnRequest): Generator<RequestOp> {
  for (const branch of [t.success, t.failure])
    for (const op of branch) {
      if (op.requestTxn !== undefined) yield* txnOps(op.requestTxn);
      else yield op;
    }
}

/** The compares of a txn and of every txn nested in it. */
export function* txnCompares(t: TxnRequest): Generator<etcdserverpb.Compare> {
  yield* t.compare;
  for (const branch of [t.success, t.failure])
    for (const op of branch) if (op.requestTxn !== undefined) yield* txnCompares(op.requestTxn);
}

/** No put and no delete anywhere in it: served locally, not proposed (etcd's isTxnReadonly). */
export function isTxnReadOnly(t: TxnRequest): boolean {
  for (const op of txnOps(t))
    if (op.requestPut !== undefined || op.requestDeleteRange !== undefined) return false;
  return true;
}

/** Every range in it is serializable (etcd's isTxnSerializable). */
export function isTxnSerializable(t: TxnRequest): boolean {
  for (const op of txnOps(t)) if (op.requestRange?.serializable === false) return false;
  return true;
}

/** The bytes a request may add to the backend (etcd's quota cost); 0 for anything else. */
export function requestCost(r: Partial<InternalRaftRequest>): number {
  if (r.put !== undefined) return costPut(r.put.key.length, r.put.value.length);
  if (r.txn !== undefined) return txnCost(r.txn);
  if (r.leaseGrant !== undefined) return LEASE_OVERHEAD_BYTES;
  return 0;
}

/** The larger of a txn's two branches, nested txns counted (only one branch runs). */
function txnCost(t: TxnRequest): number {
  const branch = (ops: RequestOp[]) => {
    let n = 0;
    for (const op of ops) {
      if (op.requestPut !== undefined)
        n += costPut(op.requestPut.key.length, op.requestPut.value.length);
      else if (op.requestTxn !== undefined) n += txnCost(op.requestTxn);
    }
    return n;
  };
  return Math.max(branch(t.success), branch(t.failure));
}

// ---- validation (etcd's v3rpc checkTxnRequest / checkIntervals) ----

/** The key is given (etcd's checkRangeRequest/checkPutRequest/checkDeleteRequest). */
export function checkKey(key: Uint8Array): void {
  if (key.length === 0) throw Errors.emptyKey();
}

/** A Put's field combinations etcd's gRPC layer refuses. */
export function checkPutRequest(r: etcdserverpb.PutRequest): void {
  checkKey(r.key);
  if (r.ignoreValue && r.value.length !== 0) throw Errors.valueProvided();
  if (r.ignoreLease && r.lease !== 0n) throw Errors.leaseProvided();
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange !== undefined) checkKey(op.requestRange.key);
  else if (op.requestPut !== undefined) checkPutRequest(op.requestPut);
  else if (op.requestDeleteRange !== undefined) checkKey(op.requestDeleteRange.key);
  else if (op.requestTxn !== undefined) checkTxnOps(op.requestTxn, maxTxnOps);
  // An op with no request set: etcd answers key-not-found.
  else throw Errors.keyNotFound();
}

function checkTxnOps(r: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) throw Errors.tooManyOps();
  for (const c of r.compare) checkKey(c.key);
  for (const op of r.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of r.failure) checkRequestOp(op, maxTxnOps - opc);
}

/** A delete's key interval in binary strings; end undefined: the one key. */
interface DelInterval {
  start: string;
  end: string | undefined;
}

function bin(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * A delete's interval as etcd 3.4's checkIntervals builds it: the range end taken as bytes,
 * so `"\0"` (every key from key on, to the store) is an empty interval here and overlaps
 * no put, as in etcd.
 */
function delIntervalOf(r: DeleteRangeRequest): DelInterval {
  if (r.rangeEnd.length === 0) return { start: bin(r.key), end: undefined };
  return { start: bin(r.key), end: bin(r.rangeEnd) };
}

function deletes(dels: DelInterval[], key: string): boolean {
  for (const d of dels) {
    if (d.end === undefined) {
      if (d.start === key) return true;
    } else if (key >= d.start && key < d.end) return true;
  }
  return false;
}

/**
 * Refuses a txn whose branches put one key twice, or put a key a delete of the same
 * request also covers (etcd's checkIntervals); returns the puts and deletes it found.
 */
function checkIntervals(reqs: RequestOp[]): { puts: Set<string>; dels: DelInterval[] } {
  const dels: DelInterval[] = [];
  for (const op of reqs)
    if (op.requestDeleteRange !== undefined) dels.push(delIntervalOf(op.requestDeleteRange));
  const puts = new Set<string>();
  for (const op of reqs) {
    if (op.requestTxn === undefined) continue;
    const then = checkIntervals(op.requestTxn.success);
    const otherwise = checkIntervals(op.requestTxn.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deletes(dels, k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // The same key in both branches is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw Errors.duplicateKey();
      if (deletes(dels, k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of reqs) {
    if (op.requestPut === undefined) continue;
    const k = bin(op.requestPut.key);
    if (puts.has(k) || deletes(dels, k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

/**
 * Validates a txn as etcd's gRPC layer does before proposing it: at most `maxTxnOps`
 * operations per level, keys present, and no key put twice or both put and deleted.
 */
export function validateTxnRequest(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnOps(r, maxTxnOps);
  checkIntervals(r.success);
  checkIntervals(r.failure);
}

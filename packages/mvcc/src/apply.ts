import { etcdserverpb } from '@etcd-ts/api';
import { costPut } from '@etcd-ts/backend';
import type { KeyValue } from './codec.js';
import {
  CompactedError,
  DuplicateKeyError,
  EmptyKeyError,
  EmptyRequestOpError,
  FutureRevError,
  KeyNotFoundError,
  LeaseNotFoundError,
  TooManyOpsError,
} from './errors.js';
import type { KVStore, LeaseLinker, TxnRead, TxnWrite } from './kvstore.js';

// The server's side of KV requests (etcd's applierV3backend Range/Put/DeleteRange/Txn and
// the request checks of its gRPC layer), on the wire types, so the server applies raft
// entries through exactly these functions.

type RangeRequest = etcdserverpb.RangeRequest;
type RangeResponse = etcdserverpb.RangeResponse;
type PutRequest = etcdserverpb.PutRequest;
type PutResponse = etcdserverpb.PutResponse;
type DeleteRangeRequest = etcdserverpb.DeleteRangeRequest;
type DeleteRangeResponse = etcdserverpb.DeleteRangeResponse;
type TxnRequest = etcdserverpb.TxnRequest;
type TxnResponse = etcdserverpb.TxnResponse;
type RequestOp = etcdserverpb.RequestOp;
type ResponseOp = etcdserverpb.ResponseOp;
type Compare = etcdserverpb.Compare;
type ResponseHeader = etcdserverpb.ResponseHeader;

const SortOrder = etcdserverpb.RangeRequest_SortOrder;
const SortTarget = etcdserverpb.RangeRequest_SortTarget;
const CompareResult = etcdserverpb.Compare_CompareResult;
const CompareTarget = etcdserverpb.Compare_CompareTarget;

/** etcd's default --max-txn-ops. */
export const DEFAULT_MAX_TXN_OPS = 128;

const EMPTY = new Uint8Array(0);

/** A header with only the revision set; the server fills in cluster, member and term. */
export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

// ---- request checks (etcd's v3rpc checkTxnRequest / checkIntervals) ----

/** etcd's gRPC-layer check of a RangeRequest: the key must be given. */
export function checkRangeRequest(r: RangeRequest | undefined): void {
  if (r === undefined || r.key.length === 0) throw new EmptyKeyError();
}

/** etcd's gRPC-layer check of a PutRequest: the key must be given. */
export function checkPutRequest(r: PutRequest | undefined): void {
  if (r === undefined || r.key.length === 0) throw new EmptyKeyError();
}

/** etcd's gRPC-layer check of a DeleteRangeRequest: the key must be given. */
export function checkDeleteRequest(r: DeleteRangeRequest | undefined): void {
  if (r === undefined || r.key.length === 0) throw new EmptyKeyError();
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange !== undefined) checkRangeRequest(op.requestRange);
  else if (op.requestPut !== undefined) checkPutRequest(op.requestPut);
  else if (op.requestDeleteRange !== undefined) checkDeleteRequest(op.requestDeleteRange);
  else if (op.requestTxn !== undefined) checkTxnOps(op.requestTxn, maxTxnOps);
  else throw new EmptyRequestOpError();
}

function checkTxnOps(r: TxnRequest, maxTxnOps: number): void {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) throw new TooManyOpsError();
  for (const c of r.compare) if (c.key.length === 0) throw new EmptyKeyError();
  for (const op of r.success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of r.failure) checkRequestOp(op, maxTxnOps - opc);
}

/** A delete's key interval in binary strings; end '' means unbounded, undefined one key. */
interface DelInterval {
  start: string;
  end: string | undefined;
}

function bin(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function delIntervalOf(r: DeleteRangeRequest): DelInterval {
  if (r.rangeEnd.length === 0) return { start: bin(r.key), end: undefined };
  // etcd's affine interval treats "\0" as the end of the key space.
  if (r.rangeEnd.length === 1 && r.rangeEnd[0] === 0) return { start: bin(r.key), end: '' };
  return { start: bin(r.key), end: bin(r.rangeEnd) };
}

function deletes(dels: DelInterval[], key: string): boolean {
  for (const d of dels) {
    if (d.end === undefined) {
      if (d.start === key) return true;
    } else if (key >= d.start && (d.end === '' || key < d.end)) return true;
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
      if (puts.has(k) || deletes(dels, k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      // The same key in both branches is fine: only one branch runs.
      if (puts.has(k) && !then.puts.has(k)) throw new DuplicateKeyError();
      if (deletes(dels, k)) throw new DuplicateKeyError();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of reqs) {
    if (op.requestPut === undefined) continue;
    const k = bin(op.requestPut.key);
    if (puts.has(k) || deletes(dels, k)) throw new DuplicateKeyError();
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

// ---- Range ----

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function sorter(
  target: etcdserverpb.RangeRequest_SortTarget,
): (a: KeyValue, b: KeyValue) => number {
  switch (target) {
    case SortTarget.VERSION:
      return (a, b) => a.version - b.version;
    case SortTarget.CREATE:
      return (a, b) => a.createRevision - b.createRevision;
    case SortTarget.MOD:
      return (a, b) => a.modRevision - b.modRevision;
    case SortTarget.VALUE:
      return (a, b) => compareBytes(a.value, b.value);
    default:
      return (a, b) => compareBytes(a.key, b.key);
  }
}

/** A RangeRequest against a read view (or a write txn, which sees its own writes). */
export function applyRange(txn: TxnRead, r: RangeRequest): RangeResponse {
  let limit = r.limit;
  if (
    r.sortOrder !== SortOrder.NONE ||
    r.minModRevision !== 0 ||
    r.maxModRevision !== 0 ||
    r.minCreateRevision !== 0 ||
    r.maxCreateRevision !== 0
  ) {
    // Sorting and filtering need every key first.
    limit = 0;
  }
  // One more than asked tells whether there are more.
  if (limit > 0) limit++;
  const rr = txn.range(r.key, r.rangeEnd, { limit, rev: r.revision, count: r.countOnly });
  let kvs = rr.kvs;
  if (r.maxModRevision !== 0) kvs = kvs.filter((kv) => kv.modRevision <= r.maxModRevision);
  if (r.minModRevision !== 0) kvs = kvs.filter((kv) => kv.modRevision >= r.minModRevision);
  if (r.maxCreateRevision !== 0) kvs = kvs.filter((kv) => kv.createRevision <= r.maxCreateRevision);
  if (r.minCreateRevision !== 0) kvs = kvs.filter((kv) => kv.createRevision >= r.minCreateRevision);
  let order = r.sortOrder;
  if (r.sortTarget !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  if (order !== SortOrder.NONE) {
    const cmp = sorter(r.sortTarget);
    kvs = kvs.slice().sort(order === SortOrder.DESCEND ? (a, b) => cmp(b, a) : cmp);
  }
  let more = false;
  if (r.limit > 0 && kvs.length > r.limit) {
    kvs = kvs.slice(0, r.limit);
    more = true;
  }
  if (r.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
  return { header: header(rr.rev), kvs, more, count: rr.count };
}

// ---- Put and DeleteRange ----

/** A PutRequest inside a write txn (the lease must have been checked: see applyPut). */
export function applyPutInTxn(txn: TxnWrite, p: PutRequest): PutResponse {
  let value = p.value;
  let lease = p.lease;
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = txn.range(p.key, undefined).kvs[0];
  }
  if ((p.ignoreValue || p.ignoreLease) && prev === undefined) throw new KeyNotFoundError();
  if (p.ignoreValue) value = prev!.value;
  if (p.ignoreLease) lease = prev!.lease;
  const rev = txn.put(p.key, value, lease);
  return { header: header(rev), prevKv: p.prevKv ? prev : undefined };
}

function checkLease(lessor: LeaseLinker | undefined, lease: bigint): void {
  if (lease === 0n) return;
  if (lessor === undefined || !lessor.leaseExists(lease)) throw new LeaseNotFoundError();
}

/** A PutRequest on its own: its own write txn, one new revision. */
export function applyPut(store: KVStore, p: PutRequest): PutResponse {
  checkLease(store.leaseLinker, p.lease);
  const txn = store.write();
  try {
    return applyPutInTxn(txn, p);
  } finally {
    txn.end();
  }
}

export function applyDeleteRangeInTxn(txn: TxnWrite, d: DeleteRangeRequest): DeleteRangeResponse {
  let prevKvs: KeyValue[] = [];
  if (d.prevKv) prevKvs = txn.range(d.key, d.rangeEnd).kvs;
  const { deleted, rev } = txn.deleteRange(d.key, d.rangeEnd);
  return { header: header(rev), deleted, prevKvs };
}

/** A DeleteRangeRequest on its own. */
export function applyDeleteRange(store: KVStore, d: DeleteRangeRequest): DeleteRangeResponse {
  const txn = store.write();
  try {
    return applyDeleteRangeInTxn(txn, d);
  } finally {
    txn.end();
  }
}

// ---- Txn ----

function compareKV(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target) {
    case CompareTarget.VALUE:
      result = compareBytes(kv.value, c.value ?? EMPTY);
      break;
    case CompareTarget.CREATE:
      result = cmpBig(BigInt(kv.createRevision), c.createRevision ?? 0n);
      break;
    case CompareTarget.MOD:
      result = cmpBig(BigInt(kv.modRevision), c.modRevision ?? 0n);
      break;
    case CompareTarget.VERSION:
      result = cmpBig(BigInt(kv.version), c.version ?? 0n);
      break;
    case CompareTarget.LEASE:
      result = cmpBig(kv.lease, c.lease ?? 0n);
      break;
    default:
      return true;
  }
  switch (c.result) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ZERO_KV: KeyValue = {
  key: EMPTY,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY,
  lease: 0n,
};

/** One compare against the read view: every key of its range must satisfy it. */
export function applyCompare(rv: TxnRead, c: Compare): boolean {
  let kvs: KeyValue[];
  try {
    kvs = rv.range(c.key, c.rangeEnd).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) {
    // A missing key has no value to compare; its version, revisions and lease are 0.
    if (c.target === CompareTarget.VALUE) return false;
    return compareKV(c, ZERO_KV);
  }
  return kvs.every((kv) => compareKV(c, kv));
}

/** Which branch each txn takes, depth first: [this txn, then each nested txn on its path]. */
function compareToPath(rv: TxnRead, rt: TxnRequest): boolean[] {
  const ok = rt.compare.every((c) => applyCompare(rv, c));
  const path = [ok];
  for (const op of ok ? rt.success : rt.failure) {
    if (op.requestTxn !== undefined) path.push(...compareToPath(rv, op.requestTxn));
  }
  return path;
}

function isTxnReadonly(r: TxnRequest): boolean {
  for (const op of [...r.success, ...r.failure]) {
    if (op.requestPut !== undefined || op.requestDeleteRange !== undefined) return false;
    if (op.requestTxn !== undefined && !isTxnReadonly(op.requestTxn)) return false;
  }
  return true;
}

/** Runs `check` over the ops on the chosen path; returns how many nested txns it walked. */
function checkRequests(rt: TxnRequest, path: boolean[], check: (op: RequestOp) => void): number {
  let txns = 0;
  let rest = path.slice(1);
  for (const op of path[0] ? rt.success : rt.failure) {
    if (op.requestTxn !== undefined) {
      const n = checkRequests(op.requestTxn, rest, check);
      txns += n + 1;
      rest = rest.slice(n + 1);
      continue;
    }
    check(op);
  }
  return txns;
}

function applyOps(
  txn: TxnWrite | TxnRead,
  rt: TxnRequest,
  path: boolean[],
): { resp: TxnResponse; txns: number } {
  const succeeded = path[0]!;
  const responses: ResponseOp[] = [];
  let txns = 0;
  let rest = path.slice(1);
  for (const op of succeeded ? rt.success : rt.failure) {
    if (op.requestRange !== undefined) {
      responses.push({ responseRange: applyRange(txn, op.requestRange) });
    } else if (op.requestPut !== undefined) {
      responses.push({ responsePut: applyPutInTxn(txn as TxnWrite, op.requestPut) });
    } else if (op.requestDeleteRange !== undefined) {
      responses.push({
        responseDeleteRange: applyDeleteRangeInTxn(txn as TxnWrite, op.requestDeleteRange),
      });
    } else if (op.requestTxn !== undefined) {
      const nested = applyOps(txn, op.requestTxn, rest);
      responses.push({ responseTxn: nested.resp });
      txns += nested.txns + 1;
      rest = rest.slice(nested.txns + 1);
    }
  }
  return { resp: { header: header(0), succeeded, responses }, txns };
}

export interface ApplyTxnOptions {
  /** Validate as the gRPC layer does first (default true; DEFAULT_MAX_TXN_OPS ops). */
  validate?: boolean;
  maxTxnOps?: number;
}

/**
 * A TxnRequest (etcd's applierV3backend.Txn): compares run against the store as it is;
 * then, for the branch taken (recursively for nested txns), every put's lease and
 * ignore_* preconditions and every range's revision are checked before anything is
 * written, and the ops run in one write txn — one new revision, a sub revision per change.
 * A failed check throws and changes nothing.
 */
export function applyTxn(store: KVStore, rt: TxnRequest, opts: ApplyTxnOptions = {}): TxnResponse {
  if (opts.validate !== false) validateTxnRequest(rt, opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS);
  const rv = store.read();
  const path = compareToPath(rv, rt);
  const isWrite = !isTxnReadonly(rt);
  if (isWrite) {
    const lessor = store.leaseLinker;
    checkRequests(rt, path, (op) => {
      const p = op.requestPut;
      if (p === undefined) return;
      if (p.ignoreValue || p.ignoreLease) {
        if (rv.range(p.key, undefined).kvs.length === 0) throw new KeyNotFoundError();
      }
      checkLease(lessor, p.lease);
    });
  }
  checkRequests(rt, path, (op) => {
    const r = op.requestRange;
    if (r === undefined || r.revision === 0) return;
    if (r.revision > rv.rev()) throw new FutureRevError();
    if (r.revision < rv.firstRev()) throw new CompactedError();
  });
  if (!isWrite) {
    const { resp } = applyOps(rv, rt, path);
    // Only the outer header carries the revision, as in etcd; nested ones stay zero.
    resp.header = header(rv.rev());
    return resp;
  }
  const txn = store.write();
  let resp: TxnResponse;
  try {
    resp = applyOps(txn, rt, path).resp;
  } finally {
    txn.end();
  }
  resp.header = header(txn.hasChanges() ? txn.rev() + 1 : txn.rev());
  return resp;
}

/**
 * The bytes a request adds to the backend, as etcd's quota estimates them: a put costs
 * its key, value and a fixed overhead; a txn costs the larger of its two branches' puts
 * (nested txns are not counted, as in etcd). Feed it to @etcd-ts/backend's BackendQuota.
 */
export function requestCost(r: { put?: PutRequest; txn?: TxnRequest }): number {
  if (r.put !== undefined) return costPut(r.put.key.length, r.put.value.length);
  if (r.txn !== undefined) {
    const branch = (ops: RequestOp[]) =>
      ops.reduce(
        (n, op) =>
          n +
          (op.requestPut === undefined
            ? 0
            : costPut(op.requestPut.key.length, op.requestPut.value.length)),
        0,
      );
    return Math.max(branch(r.txn.success), branch(r.txn.failure));
  }
  return 0;
}

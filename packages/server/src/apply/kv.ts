import { etcdserverpb } from '@etcd-ts/api';
import { LeaseNotFoundError } from '@etcd-ts/lease';
import {
  CompactedError,
  FutureRevError,
  type KeyValue,
  type KVStore,
  type TxnRead,
  type TxnWrite,
} from '@etcd-ts/mvcc';
import { Errors } from '../errors.js';
import { InvariantError } from '../invariant.js';

// KV requests against the mvcc store (etcd's applierV3backend Range/Put/DeleteRange/Txn):
// what a committed entry does, and what a read served locally does. Responses carry only
// their revision in the header; the v3 server fills in the rest when it answers.

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

const EMPTY = new Uint8Array(0);

/** A header with only the revision set (etcd's applier leaves the rest to the server). */
export function revisionHeader(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
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
  return { header: revisionHeader(rr.rev), kvs, more, count: rr.count };
}

// ---- Put and DeleteRange ----

/** A PutRequest inside a write txn (its lease checked beforehand: see checkPut). */
function putInTxn(txn: TxnWrite, p: PutRequest): PutResponse {
  let value = p.value;
  let lease = p.lease;
  let prev: KeyValue | undefined;
  if (p.ignoreValue || p.ignoreLease || p.prevKv) {
    prev = txn.range(p.key, undefined).kvs[0];
  }
  if ((p.ignoreValue || p.ignoreLease) && prev === undefined) throw Errors.keyNotFound();
  if (p.ignoreValue) value = prev!.value;
  if (p.ignoreLease) lease = prev!.lease;
  const rev = txn.put(p.key, value, lease);
  return { header: revisionHeader(rev), prevKv: p.prevKv ? prev : undefined };
}

function deleteRangeInTxn(txn: TxnWrite, d: DeleteRangeRequest): DeleteRangeResponse {
  let prevKvs: KeyValue[] = [];
  if (d.prevKv) prevKvs = txn.range(d.key, d.rangeEnd).kvs;
  const { deleted, rev } = txn.deleteRange(d.key, d.rangeEnd);
  return { header: revisionHeader(rev), deleted, prevKvs };
}

/**
 * What a put needs before it writes anything: its lease exists, and the key exists when
 * it keeps the key's value or lease.
 */
function checkPut(store: KVStore, rv: TxnRead, p: PutRequest): void {
  if ((p.ignoreValue || p.ignoreLease) && rv.range(p.key, undefined).kvs.length === 0)
    throw Errors.keyNotFound();
  if (p.lease !== 0n && store.leaseLinker?.leaseExists(p.lease) !== true)
    throw new LeaseNotFoundError();
}

/**
 * Runs `body` in the store's write txn and ends it. Every request error is found before
 * the first write (see applyPut and applyTxn): a failure after a change would commit half
 * a request, so it is a broken invariant instead, the txn is left unended and the member
 * stops without committing it (etcd panics there).
 */
export function inWriteTxn<T>(store: KVStore, body: (txn: TxnWrite) => T): T {
  const txn = store.write();
  let out: T;
  try {
    out = body(txn);
  } catch (err) {
    if (txn.hasChanges())
      throw new InvariantError(
        `a write failed after changing the store: ${err instanceof Error ? err.message : String(err)}`,
      );
    txn.end();
    throw err;
  }
  txn.end();
  return out;
}

/** A PutRequest on its own: one new revision. */
export function applyPut(store: KVStore, p: PutRequest): PutResponse {
  const rv = store.read();
  checkPut(store, rv, p);
  return inWriteTxn(store, (txn) => putInTxn(txn, p));
}

/** A DeleteRangeRequest on its own. */
export function applyDeleteRange(store: KVStore, d: DeleteRangeRequest): DeleteRangeResponse {
  return inWriteTxn(store, (txn) => deleteRangeInTxn(txn, d));
}

// ---- Txn ----

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKV(c: Compare, kv: KeyValue): boolean {
  // An unknown target compares as equal, as etcd's applyCompare leaves its result at 0.
  let result = 0;
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

const ZERO_KV: KeyValue = {
  key: EMPTY,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY,
  lease: 0n,
};

/** One compare against the read view: every key of its range must satisfy it. */
function applyCompare(rv: TxnRead, c: Compare): boolean {
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

/**
 * The ops a txn runs along `path` (each level's compare result, depth first, as
 * branchesTaken gives it; consumed as it goes).
 */
function* opsOnPath(rt: TxnRequest, path: boolean[]): Generator<RequestOp> {
  const ok = path.shift()!;
  for (const op of ok ? rt.success : rt.failure) {
    if (op.requestTxn !== undefined) yield* opsOnPath(op.requestTxn, path);
    else yield op;
  }
}

/** Runs the branch each level's compares chose, with the responses in request order. */
function runTxn(
  read: TxnRead,
  writer: TxnWrite | undefined,
  rt: TxnRequest,
  succeeded: boolean[],
): TxnResponse {
  const ok = succeeded.shift()!;
  const responses: ResponseOp[] = [];
  for (const op of ok ? rt.success : rt.failure) {
    if (op.requestRange !== undefined) {
      responses.push({ responseRange: applyRange(read, op.requestRange) });
    } else if (op.requestTxn !== undefined) {
      responses.push({ responseTxn: runTxn(read, writer, op.requestTxn, succeeded) });
    } else if (writer === undefined) {
      throw new InvariantError('apply: a write op in a txn run as read-only');
    } else if (op.requestPut !== undefined) {
      responses.push({ responsePut: putInTxn(writer, op.requestPut) });
    } else if (op.requestDeleteRange !== undefined) {
      responses.push({ responseDeleteRange: deleteRangeInTxn(writer, op.requestDeleteRange) });
    }
  }
  // Only the outermost header carries a revision, as in etcd; nested ones stay zero.
  return { header: revisionHeader(0), succeeded: ok, responses };
}

/** Each level's compare result along the path the txn takes, depth first (etcd's compareToPath). */
function branchesTaken(rv: TxnRead, rt: TxnRequest): boolean[] {
  const ok = rt.compare.every((c) => applyCompare(rv, c));
  const out = [ok];
  for (const op of ok ? rt.success : rt.failure)
    if (op.requestTxn !== undefined) out.push(...branchesTaken(rv, op.requestTxn));
  return out;
}

/**
 * A TxnRequest (etcd's applierV3backend.Txn): compares run against the store as it is;
 * then, on the path taken, every put's lease and ignore_* preconditions and every range's
 * revision are checked before anything is written, and the ops run in one write txn
 * (one new revision, a sub revision per change). A failed check throws and changes
 * nothing. `readOnly` (the caller's isTxnReadOnly) runs it on a read view.
 */
export function applyTxn(store: KVStore, rt: TxnRequest, readOnly: boolean): TxnResponse {
  const rv = store.read();
  const path = branchesTaken(rv, rt);
  for (const op of opsOnPath(rt, [...path])) {
    if (op.requestPut !== undefined) checkPut(store, rv, op.requestPut);
    const r = op.requestRange;
    if (r !== undefined && r.revision !== 0) {
      if (r.revision > rv.rev()) throw new FutureRevError();
      if (r.revision < rv.firstRev()) throw new CompactedError();
    }
  }
  if (readOnly) {
    const resp = runTxn(rv, undefined, rt, path);
    resp.header = revisionHeader(rv.rev());
    return resp;
  }
  let changed = false;
  let rev = 0;
  const resp = inWriteTxn(store, (txn) => {
    const out = runTxn(txn, txn, rt, path);
    changed = txn.hasChanges();
    rev = txn.rev();
    return out;
  });
  resp.header = revisionHeader(changed ? rev + 1 : rev);
  return resp;
}

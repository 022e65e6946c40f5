import { etcdserverpb, type mvccpb } from '@etcd-ts/api';
import { type Bytes, concatBytes, FROM_KEY, prefixEnd, toBytes } from './bytes.js';
import type { CallOptions, Connection } from './connection.js';

const {
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
} = etcdserverpb;

/** Which keys an operation covers: one key, a prefix, a range or every key from a key on. */
export interface RangeOptions {
  /** Every key that starts with `key`. */
  prefix?: boolean;
  /** The half-open range [key, rangeEnd). */
  rangeEnd?: Bytes;
  /** Every key >= key. */
  fromKey?: boolean;
}

export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';
export type SortOrder = 'none' | 'ascend' | 'descend';

export interface GetOptions extends RangeOptions {
  limit?: number;
  /** Read the store as of this revision (<= 0: the newest). */
  revision?: number;
  sort?: { target?: SortTarget; order?: SortOrder };
  keysOnly?: boolean;
  countOnly?: boolean;
  /** Answer from the contacted member without a round of consensus (may be stale). */
  serializable?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

export interface PutOptions {
  /** Attach the key to this lease. */
  lease?: bigint;
  /** Return the key-value before the put. */
  prevKv?: boolean;
  /** Keep the current value (the key must exist). */
  ignoreValue?: boolean;
  /** Keep the current lease (the key must exist). */
  ignoreLease?: boolean;
}

export interface DeleteOptions extends RangeOptions {
  /** Return the deleted key-values. */
  prevKv?: boolean;
}

/** One operation of a transaction (or a standalone request). */
export type Op =
  | { readonly type: 'range'; readonly request: etcdserverpb.RangeRequest }
  | { readonly type: 'put'; readonly request: etcdserverpb.PutRequest }
  | { readonly type: 'delete'; readonly request: etcdserverpb.DeleteRangeRequest }
  | { readonly type: 'txn'; readonly request: etcdserverpb.TxnRequest };

function rangeEndOf(key: Uint8Array, options: RangeOptions): Uint8Array {
  if (options.prefix === true) {
    // clientv3: a prefix of "\0" or "" with WithPrefix means every key.
    if (key.length === 0 || (key.length === 1 && key[0] === 0)) return FROM_KEY;
    return prefixEnd(key);
  }
  if (options.fromKey === true) return FROM_KEY;
  return toBytes(options.rangeEnd);
}

function keyOf(key: Bytes, options: RangeOptions): Uint8Array {
  const bytes = toBytes(key);
  // clientv3's WithFromKey / WithPrefix on an empty key means "from the first key".
  if (bytes.length === 0 && (options.fromKey === true || options.prefix === true)) return FROM_KEY;
  return bytes;
}

const SORT_TARGETS: Record<SortTarget, etcdserverpb.RangeRequest_SortTarget> = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
};
const SORT_ORDERS: Record<SortOrder, etcdserverpb.RangeRequest_SortOrder> = {
  none: RangeRequest_SortOrder.NONE,
  ascend: RangeRequest_SortOrder.ASCEND,
  descend: RangeRequest_SortOrder.DESCEND,
};

/** Builders for the operations `KV.do` and transactions take. */
export const op = {
  get(key: Bytes, options: GetOptions = {}): Op {
    const k = keyOf(key, options);
    let order = SORT_ORDERS[options.sort?.order ?? 'none'];
    const target = SORT_TARGETS[options.sort?.target ?? 'key'];
    // clientv3: sorting by key ascending is what the server does anyway; asking for a
    // target without an order means ascending.
    if (options.sort !== undefined && options.sort.order === undefined) {
      order = RangeRequest_SortOrder.ASCEND;
    }
    return {
      type: 'range',
      request: etcdserverpb.RangeRequest.fromPartial({
        key: k,
        rangeEnd: rangeEndOf(k, options),
        limit: options.limit ?? 0,
        revision: options.revision ?? 0,
        sortOrder: order,
        sortTarget: target,
        serializable: options.serializable ?? false,
        keysOnly: options.keysOnly ?? false,
        countOnly: options.countOnly ?? false,
        minModRevision: options.minModRevision ?? 0,
        maxModRevision: options.maxModRevision ?? 0,
        minCreateRevision: options.minCreateRevision ?? 0,
        maxCreateRevision: options.maxCreateRevision ?? 0,
      }),
    };
  },
  put(key: Bytes, value: Bytes, options: PutOptions = {}): Op {
    return {
      type: 'put',
      request: etcdserverpb.PutRequest.fromPartial({
        key: toBytes(key),
        value: toBytes(value),
        lease: options.lease ?? 0n,
        prevKv: options.prevKv ?? false,
        ignoreValue: options.ignoreValue ?? false,
        ignoreLease: options.ignoreLease ?? false,
      }),
    };
  },
  delete(key: Bytes, options: DeleteOptions = {}): Op {
    const k = keyOf(key, options);
    return {
      type: 'delete',
      request: etcdserverpb.DeleteRangeRequest.fromPartial({
        key: k,
        rangeEnd: rangeEndOf(k, options),
        prevKv: options.prevKv ?? false,
      }),
    };
  },
  /** A nested transaction (etcd >= 3.3). */
  txn(compares: Compare[], success: Op[], failure: Op[] = []): Op {
    return { type: 'txn', request: txnRequest(compares, success, failure) };
  },
};

export type CompareOperator = '=' | '!=' | '>' | '<';

const RESULTS: Record<CompareOperator, etcdserverpb.Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

/** A guard of a transaction. */
export interface Compare {
  readonly compare: etcdserverpb.Compare;
}

function makeCompare(
  key: Bytes,
  target: etcdserverpb.Compare_CompareTarget,
  operator: CompareOperator,
  fields: Partial<etcdserverpb.Compare>,
  options: RangeOptions,
): Compare {
  const result = RESULTS[operator];
  if (result === undefined) throw new TypeError(`unknown comparison operator ${operator}`);
  const k = keyOf(key, options);
  return {
    compare: etcdserverpb.Compare.fromPartial({
      ...fields,
      key: k,
      rangeEnd: rangeEndOf(k, options),
      target,
      result,
    }),
  };
}

/** Builders for transaction guards, as clientv3's `Compare(Version(k), "=", 1)`. */
export const compare = {
  version(key: Bytes, operator: CompareOperator, version: number, options: RangeOptions = {}) {
    return makeCompare(
      key,
      Compare_CompareTarget.VERSION,
      operator,
      { version: BigInt(version) },
      options,
    );
  },
  createRevision(
    key: Bytes,
    operator: CompareOperator,
    revision: number,
    options: RangeOptions = {},
  ) {
    return makeCompare(
      key,
      Compare_CompareTarget.CREATE,
      operator,
      { createRevision: BigInt(revision) },
      options,
    );
  },
  modRevision(key: Bytes, operator: CompareOperator, revision: number, options: RangeOptions = {}) {
    return makeCompare(
      key,
      Compare_CompareTarget.MOD,
      operator,
      { modRevision: BigInt(revision) },
      options,
    );
  },
  value(key: Bytes, operator: CompareOperator, value: Bytes, options: RangeOptions = {}) {
    return makeCompare(
      key,
      Compare_CompareTarget.VALUE,
      operator,
      { value: toBytes(value) },
      options,
    );
  },
  lease(key: Bytes, operator: CompareOperator, lease: bigint, options: RangeOptions = {}) {
    return makeCompare(key, Compare_CompareTarget.LEASE, operator, { lease }, options);
  },
};

export function requestOp(o: Op): etcdserverpb.RequestOp {
  switch (o.type) {
    case 'range':
      return { requestRange: o.request };
    case 'put':
      return { requestPut: o.request };
    case 'delete':
      return { requestDeleteRange: o.request };
    case 'txn':
      return { requestTxn: o.request };
  }
}

function txnRequest(compares: Compare[], success: Op[], failure: Op[]): etcdserverpb.TxnRequest {
  return {
    compare: compares.map((c) => c.compare),
    success: success.map(requestOp),
    failure: failure.map(requestOp),
  };
}

/**
 * Key translation for a namespace: every key the caller names gets `prefix` in front on
 * the way out and loses it on the way back, so a namespaced view sees only its keys
 * (clientv3's namespace package).
 */
export class KeyPrefix {
  constructor(readonly prefix: Uint8Array) {}

  get empty(): boolean {
    return this.prefix.length === 0;
  }

  key(key: Uint8Array): Uint8Array {
    return this.empty ? key : concatBytes(this.prefix, key);
  }

  /** Translates [key, end): "\0" (the end of the keyspace) becomes the end of the prefix. */
  range(key: Uint8Array, end: Uint8Array): { key: Uint8Array; end: Uint8Array } {
    if (this.empty) return { key, end };
    // "\0" as the key with "\0" as end means every key: the whole prefix.
    const isAll = key.length === 1 && key[0] === 0;
    const k = isAll ? this.prefix : concatBytes(this.prefix, key);
    if (end.length === 1 && end[0] === 0) return { key: k, end: prefixEnd(this.prefix) };
    if (end.length === 0) return { key: k, end };
    return { key: k, end: concatBytes(this.prefix, end) };
  }

  strip(key: Uint8Array): Uint8Array {
    return this.empty ? key : key.subarray(this.prefix.length);
  }

  kv(kv: mvccpb.KeyValue | undefined): mvccpb.KeyValue | undefined {
    if (kv === undefined || this.empty) return kv;
    return { ...kv, key: this.strip(kv.key) };
  }

  request(r: etcdserverpb.RequestOp): etcdserverpb.RequestOp {
    if (this.empty) return r;
    if (r.requestRange !== undefined) {
      const { key, end } = this.range(r.requestRange.key, r.requestRange.rangeEnd);
      return { requestRange: { ...r.requestRange, key, rangeEnd: end } };
    }
    if (r.requestPut !== undefined) {
      return { requestPut: { ...r.requestPut, key: this.key(r.requestPut.key) } };
    }
    if (r.requestDeleteRange !== undefined) {
      const { key, end } = this.range(r.requestDeleteRange.key, r.requestDeleteRange.rangeEnd);
      return { requestDeleteRange: { ...r.requestDeleteRange, key, rangeEnd: end } };
    }
    if (r.requestTxn !== undefined) return { requestTxn: this.txn(r.requestTxn) };
    return r;
  }

  txn(t: etcdserverpb.TxnRequest): etcdserverpb.TxnRequest {
    if (this.empty) return t;
    return {
      compare: t.compare.map((c) => {
        const { key, end } = this.range(c.key, c.rangeEnd);
        return { ...c, key, rangeEnd: end };
      }),
      success: t.success.map((o) => this.request(o)),
      failure: t.failure.map((o) => this.request(o)),
    };
  }

  rangeResponse(r: etcdserverpb.RangeResponse): etcdserverpb.RangeResponse {
    if (this.empty) return r;
    return { ...r, kvs: r.kvs.map((kv) => this.kv(kv)!) };
  }

  putResponse(r: etcdserverpb.PutResponse): etcdserverpb.PutResponse {
    if (this.empty) return r;
    return { ...r, prevKv: this.kv(r.prevKv) };
  }

  deleteResponse(r: etcdserverpb.DeleteRangeResponse): etcdserverpb.DeleteRangeResponse {
    if (this.empty) return r;
    return { ...r, prevKvs: r.prevKvs.map((kv) => this.kv(kv)!) };
  }

  txnResponse(r: etcdserverpb.TxnResponse): etcdserverpb.TxnResponse {
    if (this.empty) return r;
    return {
      ...r,
      responses: r.responses.map((o) => {
        if (o.responseRange !== undefined)
          return { responseRange: this.rangeResponse(o.responseRange) };
        if (o.responsePut !== undefined) return { responsePut: this.putResponse(o.responsePut) };
        if (o.responseDeleteRange !== undefined) {
          return { responseDeleteRange: this.deleteResponse(o.responseDeleteRange) };
        }
        if (o.responseTxn !== undefined) return { responseTxn: this.txnResponse(o.responseTxn) };
        return o;
      }),
    };
  }
}

/** A transaction being built: `.if(...).then(...).else(...).commit()`. */
export class Txn {
  private readonly compares: Compare[] = [];
  private readonly success: Op[] = [];
  private readonly failure: Op[] = [];
  private stage: 'if' | 'then' | 'else' = 'if';

  constructor(
    private readonly kv: KV,
    private readonly options: CallOptions = {},
  ) {}

  /** Guards; all must hold for `then` to run. Call before `then` and `else`. */
  if(...compares: Compare[]): this {
    if (this.stage !== 'if') throw new Error('Txn: if() after then() or else()');
    this.compares.push(...compares);
    return this;
  }

  /**
   * Operations run when every guard holds. The name is clientv3's; since it makes a Txn
   * look like a promise to `await`, a call with functions (what `await` makes) commits
   * the transaction and settles with its result instead of adding operations.
   */
  // biome-ignore lint/suspicious/noThenProperty: clientv3's builder vocabulary, made await-safe.
  then(...ops: Op[]): this {
    if (ops.length > 0 && ops.every((o) => typeof o === 'function' || o === undefined)) {
      const [resolve, reject] = ops as unknown as [(v: unknown) => void, (e: unknown) => void];
      this.commit().then(resolve, reject);
      return this;
    }
    if (this.stage === 'else') throw new Error('Txn: then() after else()');
    this.stage = 'then';
    this.success.push(...ops);
    return this;
  }

  /** Operations run when some guard fails. */
  else(...ops: Op[]): this {
    this.stage = 'else';
    this.failure.push(...ops);
    return this;
  }

  commit(options: CallOptions = this.options): Promise<etcdserverpb.TxnResponse> {
    return this.kv.txnRequest(txnRequest(this.compares, this.success, this.failure), options);
  }
}

/** The key-value API (clientv3's KV), optionally confined to a key prefix. */
export class KV {
  constructor(
    protected readonly conn: Connection,
    protected readonly keys: KeyPrefix = new KeyPrefix(new Uint8Array(0)),
  ) {}

  /** Reads one key, or a range with `prefix`/`rangeEnd`/`fromKey`. */
  async get(
    key: Bytes,
    options: GetOptions & CallOptions = {},
  ): Promise<etcdserverpb.RangeResponse> {
    const o = op.get(key, options) as Extract<Op, { type: 'range' }>;
    return this.range(o.request, options);
  }

  async range(
    request: etcdserverpb.RangeRequest,
    options: CallOptions = {},
  ): Promise<etcdserverpb.RangeResponse> {
    const r = this.keys.request({ requestRange: request }).requestRange!;
    const response = await this.conn.unary(etcdserverpb.KVService.range, r, 'idempotent', options);
    return this.keys.rangeResponse(response);
  }

  async put(
    key: Bytes,
    value: Bytes,
    options: PutOptions & CallOptions = {},
  ): Promise<etcdserverpb.PutResponse> {
    const o = op.put(key, value, options) as Extract<Op, { type: 'put' }>;
    const r = this.keys.request({ requestPut: o.request }).requestPut!;
    const response = await this.conn.unary(etcdserverpb.KVService.put, r, 'mutation', options);
    return this.keys.putResponse(response);
  }

  /** Deletes one key, or a range with `prefix`/`rangeEnd`/`fromKey`. */
  async delete(
    key: Bytes,
    options: DeleteOptions & CallOptions = {},
  ): Promise<etcdserverpb.DeleteRangeResponse> {
    const o = op.delete(key, options) as Extract<Op, { type: 'delete' }>;
    const r = this.keys.request({ requestDeleteRange: o.request }).requestDeleteRange!;
    const response = await this.conn.unary(
      etcdserverpb.KVService.deleteRange,
      r,
      'mutation',
      options,
    );
    return this.keys.deleteResponse(response);
  }

  /** Starts a transaction. */
  txn(options: CallOptions = {}): Txn {
    return new Txn(this, options);
  }

  /** Sends a transaction request as built (keys are translated for a namespace). */
  async txnRequest(
    request: etcdserverpb.TxnRequest,
    options: CallOptions = {},
  ): Promise<etcdserverpb.TxnResponse> {
    const readOnly = isReadOnlyTxn(request);
    const response = await this.conn.unary(
      etcdserverpb.KVService.txn,
      this.keys.txn(request),
      readOnly ? 'idempotent' : 'mutation',
      options,
    );
    return this.keys.txnResponse(response);
  }

  /** Runs one operation built with `op`. */
  async do(o: Op, options: CallOptions = {}): Promise<etcdserverpb.ResponseOp> {
    switch (o.type) {
      case 'range':
        return { responseRange: await this.range(o.request, options) };
      case 'put': {
        const r = this.keys.request({ requestPut: o.request }).requestPut!;
        const response = await this.conn.unary(etcdserverpb.KVService.put, r, 'mutation', options);
        return { responsePut: this.keys.putResponse(response) };
      }
      case 'delete': {
        const r = this.keys.request({ requestDeleteRange: o.request }).requestDeleteRange!;
        const response = await this.conn.unary(
          etcdserverpb.KVService.deleteRange,
          r,
          'mutation',
          options,
        );
        return { responseDeleteRange: this.keys.deleteResponse(response) };
      }
      case 'txn':
        return { responseTxn: await this.txnRequest(o.request, options) };
    }
  }

  /**
   * Compacts the history up to `revision`. With `physical`, returns only once the
   * compacted revisions are removed from the backend.
   */
  compact(
    revision: number,
    options: { physical?: boolean } & CallOptions = {},
  ): Promise<etcdserverpb.CompactionResponse> {
    return this.conn.unary(
      etcdserverpb.KVService.compact,
      { revision, physical: options.physical ?? false },
      'idempotent',
      options,
    );
  }
}

function isReadOnlyTxn(t: etcdserverpb.TxnRequest): boolean {
  const readOnly = (ops: etcdserverpb.RequestOp[]): boolean =>
    ops.every(
      (o) =>
        o.requestRange !== undefined || (o.requestTxn !== undefined && isReadOnlyTxn(o.requestTxn)),
    );
  return readOnly(t.success) && readOnly(t.failure);
}

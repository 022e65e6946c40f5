import type { etcdserverpb } from '@etcd-ts/api';
import type { KV } from '../v3/kv.js';
import type { CallerOf } from './caller.js';
import { unary } from './util.js';

/** etcd's KV service: each call to its typed method in v3/kv.ts. */
export function kvService(kv: KV, callerOf: CallerOf): etcdserverpb.KVServer {
  return {
    range: unary((req, call) => kv.range(req, callerOf(call))),
    put: unary((req, call) => kv.put(req, callerOf(call))),
    deleteRange: unary((req, call) => kv.deleteRange(req, callerOf(call))),
    txn: unary((req, call) => kv.txn(req, callerOf(call))),
    compact: unary((req, call) => kv.compact(req, callerOf(call))),
  };
}

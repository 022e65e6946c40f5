import type { etcdserverpb } from '@etcd-ts/api';
import type { Cluster } from '../v3/cluster.js';
import type { CallerOf } from './caller.js';
import { unary } from './util.js';

/** etcd's Cluster service: each call to its typed method in v3/cluster.ts. */
export function clusterService(c: Cluster, callerOf: CallerOf): etcdserverpb.ClusterServer {
  return {
    memberList: unary((req) => c.memberList(req)),
    memberAdd: unary((req, call) => c.memberAdd(req, callerOf(call))),
    memberRemove: unary((req, call) => c.memberRemove(req, callerOf(call))),
    memberUpdate: unary((req, call) => c.memberUpdate(req, callerOf(call))),
    memberPromote: unary((req, call) => c.memberPromote(req, callerOf(call))),
  };
}
